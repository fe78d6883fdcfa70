//! bzip2: a block encoder, a block decoder and a parallel decoder of whole streams.

pub mod block;
pub mod crc;
pub mod encode;
pub mod parallel;
#[cfg(test)]
mod props;
#[cfg(test)]
mod samples;
