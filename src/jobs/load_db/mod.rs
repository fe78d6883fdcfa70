//! Loading a dump or an Odoo backup into a database (and its filestore), which appear only
//! when complete: `load-db` itself, and the engine of `load` and `restore` (`jobs::load`).
//!
//! Steps: detect the input's format by content (compression, then payload: `input`); connect;
//! finish or undo what a killed run on the same database left (`clean::settle`); refuse an
//! existing target without `--force`; create a temporary database beside the target the way
//! Odoo creates databases, holding the advisory locks of its name and of the name the target
//! gets while it is replaced; stream the dump into it (`feed`: psql in one transaction
//! stopping at the first error, or pg_restore stopping at the first error) while an archive's
//! filestore is extracted into a temporary directory beside its target (`unpack`); when asked,
//! compare the rows of every table with those the archive's manifest recorded; run the
//! finishing SQL (copy, neutralization) on the temporary database; then swap filestore and
//! database into place (`job`). Any failure, including a signal, removes the temporary
//! database and directory and leaves an existing target untouched; what a SIGKILL leaves,
//! `oe clean` (or the next load of the database) removes.

mod error;
mod feed;
mod input;
mod job;
mod unpack;

pub use error::Error;
pub use input::{Origin, SeekRead, Seekable};
pub use job::{Finishing, LoadRequest, LoadSummary, RowsChecked, load_db};
