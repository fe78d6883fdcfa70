//! What the codecs, the pipelines and the mirror are built from: [`pool`], the one ordered
//! worker pool behind every parallel stage (a worker's panic is an error, never a hang);
//! [`background`], a writer on a thread of its own; [`spill`], where what grows with the
//! number of files goes once it outgrows memory (the one place here that makes a file: an
//! unlinked temporary one). Generic over the bytes: no format is known here.

pub mod background;
pub mod pool;
pub mod spill;
