//! A writer that does its writing on a thread of its own, so that whoever produces the bytes
//! (the zip writer's calling thread, which also reads the filestore) never waits in `write(2)`.
//!
//! Small writes are gathered into a buffer sent when full; large blocks already in a `Vec`
//! are handed over whole with [`BackgroundWriter::write_owned`], without a copy. At most
//! `depth` buffers wait for the thread: memory stays bounded and a slow disk slows the
//! producer down instead of filling memory.
//!
//! Errors: the first write error stops the thread; it is returned, as the OS gave it, by the
//! next call (or by `flush`/`finish`), so it surfaces a few buffers after the bytes that
//! failed, never later than `finish`. Dropping the writer without `finish` stops the thread
//! after the write under way (nothing more is written) and joins it.
//!
//! Must not: reorder bytes, lose an error, or leave its thread behind.

use std::io::{self, Write};
use std::mem;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

/// Size of the buffer gathering small writes.
const GATHER: usize = 256 << 10;
/// A block at least this large is sent as it is rather than copied into the buffer.
const MOVE_AT: usize = 64 << 10;

enum Message {
    Data(Vec<u8>),
    /// Flush the inner writer and say how it went.
    Flush(SyncSender<io::Result<()>>),
}

/// See the module documentation.
pub struct BackgroundWriter<W: Write + Send + 'static> {
    buffer: Vec<u8>,
    sender: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<io::Result<W>>>,
    stop: Arc<AtomicBool>,
}

impl<W: Write + Send + 'static> BackgroundWriter<W> {
    /// Writes to `out` on a new thread, with at most `depth` buffers waiting.
    pub fn new(out: W, depth: usize) -> Self {
        let (sender, receiver) = sync_channel(depth.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || write_all(out, &receiver, &stop))
        };
        BackgroundWriter {
            buffer: Vec::with_capacity(GATHER),
            sender: Some(sender),
            thread: Some(thread),
            stop,
        }
    }

    /// Writes `data` after everything written so far, without copying it when it is large.
    pub fn write_owned(&mut self, data: Vec<u8>) -> io::Result<()> {
        if data.len() < MOVE_AT {
            return self.write_all(&data);
        }
        self.send_buffer()?;
        self.send(Message::Data(data))
    }

    /// Writes everything, flushes and returns the inner writer, or the first error.
    pub fn finish(mut self) -> io::Result<W> {
        self.send_buffer()?;
        self.sender = None;
        self.join()
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let full = mem::replace(&mut self.buffer, Vec::with_capacity(GATHER));
        self.send(Message::Data(full))
    }

    fn send(&mut self, message: Message) -> io::Result<()> {
        let sent = match &self.sender {
            Some(sender) => sender.send(message).is_ok(),
            None => false,
        };
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    /// The error that stopped the thread, once it stopped.
    fn stopped(&mut self) -> io::Error {
        self.sender = None;
        match self.join() {
            Err(e) => e,
            Ok(_) => io::Error::other("the output's writer thread stopped"),
        }
    }

    fn join(&mut self) -> io::Result<W> {
        let thread = self.thread.take().ok_or_else(|| io::Error::other("output failed earlier"))?;
        thread.join().unwrap_or_else(|_| Err(io::Error::other("the output's writer panicked")))
    }
}

impl<W: Write + Send + 'static> Write for BackgroundWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + data.len() > GATHER {
            self.send_buffer()?;
        }
        if data.len() >= GATHER {
            self.send(Message::Data(data.to_vec()))?;
        } else {
            self.buffer.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()?;
        let (reply, answer) = sync_channel(1);
        self.send(Message::Flush(reply))?;
        answer.recv().unwrap_or_else(|_| Err(self.stopped()))
    }
}

impl<W: Write + Send + 'static> Drop for BackgroundWriter<W> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop.store(true, Ordering::Relaxed);
            self.sender = None;
            let _ = self.join();
        }
    }
}

/// The thread: writes what arrives, in order, until the channel closes or a write fails.
fn write_all<W: Write>(
    mut out: W,
    receiver: &Receiver<Message>,
    stop: &AtomicBool,
) -> io::Result<W> {
    for message in receiver {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("the output was abandoned"));
        }
        match message {
            Message::Data(data) => out.write_all(&data)?,
            Message::Flush(reply) => {
                let flushed = out.flush();
                let failed =
                    flushed.as_ref().err().map(|e| io::Error::new(e.kind(), e.to_string()));
                let _ = reply.send(flushed);
                if let Some(e) = failed {
                    return Err(e);
                }
            }
        }
    }
    out.flush()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Full;

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    #[test]
    fn bytes_arrive_in_order_whatever_the_mix_of_writes() {
        let mut writer = BackgroundWriter::new(Vec::new(), 2);
        let mut expected = Vec::new();
        for i in 0..200 {
            let piece = pattern((i * 7919) % (3 * GATHER), i as u8);
            if i % 3 == 0 {
                writer.write_owned(piece.clone()).unwrap();
            } else {
                writer.write_all(&piece).unwrap();
            }
            expected.extend_from_slice(&piece);
            if i % 50 == 0 {
                writer.flush().unwrap();
            }
        }
        assert!(writer.finish().unwrap() == expected);
    }

    #[test]
    fn the_first_error_comes_back_as_the_os_gave_it() {
        let mut writer = BackgroundWriter::new(Full { room: 1000 }, 1);
        let error = (0..100)
            .find_map(|i| writer.write_owned(pattern(MOVE_AT, i)).err())
            .expect("the disk filled up");
        assert_eq!(error.raw_os_error(), Some(libc::ENOSPC));
        // Everything after fails too, without hanging.
        assert!(writer.write_all(b"more").and_then(|()| writer.flush()).is_err());

        let mut writer = BackgroundWriter::new(Full { room: 10 }, 4);
        writer.write_all(b"more than ten bytes").unwrap();
        assert_eq!(writer.finish().err().unwrap().raw_os_error(), Some(libc::ENOSPC));

        let mut writer = BackgroundWriter::new(Full { room: 10 }, 4);
        writer.write_all(b"more than ten bytes").unwrap();
        assert_eq!(writer.flush().unwrap_err().raw_os_error(), Some(libc::ENOSPC));
    }

    #[test]
    fn dropping_it_stops_its_thread() {
        let mut writer = BackgroundWriter::new(Vec::new(), 2);
        writer.write_owned(pattern(MOVE_AT, 1)).unwrap();
        drop(writer);
    }
}
