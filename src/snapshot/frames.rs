//! A snapshot's compressed file made from an image file: independent zstd frames of [`FRAME`]
//! bytes of the image each, one after the other (design.md §3.4).
//!
//! Independent frames let compression start before the image is final. While the engine drafts
//! the image it shows each piece it writes ([`ImageTap`]); worker threads compress the pieces
//! beside the copy, into a file of drafted slots ([`Drafts`]: each frame followed by a
//! skippable frame of padding). Once the image is final, one pass reads it in order
//! ([`write`]): a piece whose seeded hash is that of the drafted piece keeps its slot, any other
//! piece (rewritten when the copy settled, or never shown) is compressed then, into its drafted
//! slot when it fits there. The drafted file is then the snapshot's file; only a piece grown
//! past its slot, or past the draft, starts a new one. A decoder reads concatenated frames as
//! one stream and passes over skippable ones, so the file is still one `zstd -d` away from the
//! image.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Result;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::{xxh3_128_with_seed, Xxh3};

use super::{compress_workers, finish, Sum, ZSTD_LEVEL};
use crate::engine::ImageTap;
use crate::failpoint;
use crate::store::{self, FlushBehind, Scratch};

/// Image bytes per frame: the job size the streamed compressor gives zstd's worker threads too.
/// The file grows by about 0.05% against one frame of the whole image (1 GiB of the app's data,
/// measured), and by 0.4% more with the padding of each slot.
pub const FRAME: usize = 4 << 20;

/// The seeded hashes of an image's pieces, by which a drafted frame is known to hold the final
/// image's bytes and a read-back is checked piece by piece. 128 bits with a random seed per
/// run, which the app does not know: its data is not chosen to collide (xxh3 is not a
/// cryptographic hash; `snapshot verify` rechecks the image's SHA-256).
#[derive(Clone)]
pub struct Pieces {
    seed: u64,
    hashes: Vec<u128>,
}

impl Pieces {
    fn new() -> Pieces {
        Pieces {
            seed: fastrand::u64(..),
            hashes: Vec::new(),
        }
    }

    fn hash(&self, bytes: &[u8]) -> u128 {
        xxh3_128_with_seed(bytes, self.seed)
    }

    /// Compares a stream of image bytes with these pieces (see [`PieceCheck`]).
    pub fn check(&self) -> PieceCheck<'_> {
        PieceCheck {
            pieces: self,
            hasher: Xxh3::with_seed(self.seed),
            in_piece: 0,
            index: 0,
            differs_at: None,
        }
    }
}

/// Hashes bytes piece by piece as they come and remembers where the first piece differs.
pub struct PieceCheck<'a> {
    pieces: &'a Pieces,
    hasher: Xxh3,
    in_piece: usize,
    index: usize,
    differs_at: Option<u64>,
}

impl PieceCheck<'_> {
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = (FRAME - self.in_piece).min(bytes.len());
            self.hasher.update(&bytes[..take]);
            self.in_piece += take;
            bytes = &bytes[take..];
            if self.in_piece == FRAME {
                self.end_piece();
            }
        }
    }

    fn end_piece(&mut self) {
        let at = (self.index * FRAME) as u64;
        if self.pieces.hashes.get(self.index) != Some(&self.hasher.digest128()) {
            self.differs_at.get_or_insert(at);
        }
        self.hasher.reset();
        self.in_piece = 0;
        self.index += 1;
    }

    /// The offset of the first piece that differs (a missing or extra piece too), if any.
    pub fn differs_at(mut self) -> Option<u64> {
        // The last piece is short, or the image empty (then one empty piece, as written).
        if self.in_piece > 0 || self.index == 0 {
            self.end_piece();
        }
        if self.index < self.pieces.hashes.len() {
            self.differs_at.get_or_insert((self.index * FRAME) as u64);
        }
        self.differs_at
    }
}

/// What a worker hands on for piece `index`.
enum Item {
    /// The drafted frame holds this piece.
    Kept,
    /// The piece, compressed now.
    Fresh(io::Result<Slot>),
}

/// A compressed piece as it goes into the file: its frame, then a skippable frame of padding
/// (zstd's format: decoders pass over it), so that a new frame of the same piece, made once the
/// image is final, can take its place without moving the frames after it (see [`assemble`]).
struct Slot {
    bytes: Vec<u8>,
    /// The frame's length; the padding follows.
    frame: usize,
}

impl Slot {
    /// Whether this slot's frame fits into a slot of `len` bytes, padding included.
    fn fits(&self, len: u64) -> bool {
        len >= (self.frame + SKIPPABLE_HEADER) as u64
    }

    /// This slot's frame, padded to `len` bytes in all (which it [`Slot::fits`]).
    fn fitted(mut self, len: u64) -> Vec<u8> {
        self.bytes.truncate(self.frame);
        push_skippable(&mut self.bytes, len as usize - self.frame);
        self.bytes
    }
}

/// A skippable frame's magic number and length field.
pub(super) const SKIPPABLE_HEADER: usize = 8;
/// The first of the 16 magic numbers of a skippable frame.
pub(super) const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;

/// Padding after a frame: a few hundred bytes, or 0.4% of the frame, whichever is more. A
/// piece the app changed a little compresses to about as much again (page 1's change counter,
/// a few rows).
fn padding(frame: usize) -> usize {
    SKIPPABLE_HEADER + (frame / 256).max(504)
}

/// Appends a skippable frame of `len` bytes in all (its header, then zeros).
fn push_skippable(bytes: &mut Vec<u8>, len: usize) {
    bytes.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
    bytes.extend_from_slice(&((len - SKIPPABLE_HEADER) as u32).to_le_bytes());
    bytes.resize(bytes.len() + len - SKIPPABLE_HEADER, 0);
}

/// Worker threads compressing pieces, each into a frame of its own; every frame goes to the
/// channel given to [`Pool::start`] with its piece's index, and the piece's buffer comes back
/// for reuse. A piece is handed over only with a credit, which whoever puts the frames in order
/// gives back once it has written one ([`Credits`]): however slow one worker or the disk is, a
/// few pieces are in flight in all (the memory bound of design.md §3.4).
struct Pool {
    jobs: Option<mpsc::SyncSender<(usize, Vec<u8>)>>,
    spare: mpsc::Receiver<Vec<u8>>,
    credits: mpsc::Receiver<()>,
    workers: Vec<JoinHandle<()>>,
}

/// Given back, one per piece written, to the [`Pool`] that compressed it.
struct Credits(mpsc::SyncSender<()>);

impl Credits {
    fn give_back(&self) {
        let _ = self.0.try_send(());
    }
}

impl Pool {
    fn start(done: &Frames) -> (Pool, Credits) {
        let count = compress_workers() as usize;
        let in_flight = 2 * count + 2;
        let (give_credit, credits) = mpsc::sync_channel(in_flight);
        for _ in 0..in_flight {
            let _ = give_credit.try_send(());
        }
        let (jobs, queue) = mpsc::sync_channel::<(usize, Vec<u8>)>(1);
        let queue = Arc::new(Mutex::new(queue));
        let (give_back, spare) = mpsc::channel();
        let workers = (0..count)
            .map(|_| {
                let (queue, done, give_back) =
                    (Arc::clone(&queue), done.clone(), give_back.clone());
                std::thread::spawn(move || {
                    let (mut zstd, mut out) = (None, Vec::new());
                    loop {
                        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((index, piece)) = job else { return };
                        // Every piece handed over gets an item, or the frames wait for it.
                        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            compress_piece(&mut zstd, &mut out, &piece)
                        }));
                        let frame = caught.unwrap_or_else(|_| {
                            zstd = None;
                            Err(io::Error::other("compression failed"))
                        });
                        let _ = give_back.send(piece);
                        if done.send((index, Item::Fresh(frame))).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        let pool = Pool {
            jobs: Some(jobs),
            spare,
            credits,
            workers,
        };
        (pool, Credits(give_credit))
    }

    /// An empty buffer for a piece: one a worker is done with, or a new one.
    fn buffer(&self) -> Vec<u8> {
        let mut buf = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(FRAME));
        buf.clear();
        buf
    }

    /// Queues `piece` (waiting for a credit, and while the workers are busy); false when they,
    /// or whoever writes their frames, are gone.
    fn submit(&self, index: usize, piece: Vec<u8>) -> bool {
        self.credits.recv().is_ok()
            && self
                .jobs
                .as_ref()
                .is_some_and(|jobs| jobs.send((index, piece)).is_ok())
    }
}

impl Drop for Pool {
    /// No more pieces: the workers finish what is queued and end.
    fn drop(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Where the workers' frames go, to be put in order (what is in flight is bounded by the
/// [`Credits`]).
fn frames_channel() -> (Frames, mpsc::Receiver<(usize, Item)>) {
    mpsc::sync_channel(2 * compress_workers() as usize)
}

/// Where a frame goes with its piece's index (see [`frames_channel`]).
type Frames = mpsc::SyncSender<(usize, Item)>;

/// The slot of `piece`: one frame with its content size and checksum (zstd's XXH64 of the
/// piece), and its padding. `out`: the worker's own buffer, as large as a frame can be; the
/// slot gets only what it needs.
fn compress_piece(
    zstd: &mut Option<zstd::bulk::Compressor<'static>>,
    out: &mut Vec<u8>,
    piece: &[u8],
) -> io::Result<Slot> {
    let zstd = match zstd {
        Some(zstd) => zstd,
        None => {
            let mut new = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
            new.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
            zstd.insert(new)
        }
    };
    out.clear();
    out.reserve(zstd::zstd_safe::compress_bound(piece.len()));
    let frame = zstd.compress_to_buffer(piece, out)?;
    let mut bytes = Vec::with_capacity(frame + padding(frame));
    bytes.extend_from_slice(out);
    push_skippable(&mut bytes, padding(frame));
    Ok(Slot { bytes, frame })
}

/// The engine's image as it is drafted ([`ImageTap`]): gathers its bytes into pieces of
/// [`FRAME`] bytes and compresses them on worker threads into a file of drafted frames.
/// A hint only: whatever goes wrong here (a write out of order, a full disk) just leaves fewer
/// drafted frames, and [`write`] compresses the rest.
pub struct Drafts {
    pieces: Pieces,
    pool: Option<Pool>,
    /// The piece being gathered, and the image offset its next byte has.
    piece: Vec<u8>,
    next: u64,
    writer: Option<JoinHandle<Option<DraftFile>>>,
    /// What the writer wrote, once the engine is done drafting.
    file: Option<DraftFile>,
}

/// The file of drafted slots: slot `i` starts at `offsets[i]` and ends where the next starts.
struct DraftFile {
    path: Scratch,
    file: File,
    offsets: Vec<u64>,
}

impl DraftFile {
    /// How many slots it holds.
    fn slots(&self) -> usize {
        self.offsets.len() - 1
    }

    fn offset(&self, slot: usize) -> u64 {
        self.offsets[slot]
    }

    /// Slot `index`'s length, if there is such a slot.
    fn len(&self, index: usize) -> Option<u64> {
        Some(self.offsets.get(index + 1)? - self.offsets[index])
    }

    /// Slot `index` as drafted (or rewritten in place), read into `buf`.
    fn slot<'b>(&self, index: usize, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
        let len = self
            .len(index)
            .ok_or_else(|| anyhow::anyhow!("internal: no drafted slot {index}"))?;
        buf.resize(len as usize, 0);
        self.file
            .read_exact_at(buf, self.offset(index))
            .map_err(|e| store::write_error(&self.path, e))?;
        Ok(buf)
    }
}

/// [`Drafts`] once the image is final: the pieces compressed while it was drafted.
pub struct Drafted {
    pieces: Pieces,
    file: Option<DraftFile>,
}

impl Drafted {
    /// Nothing drafted: [`write`] compresses every piece.
    pub fn none() -> Drafted {
        Drafted {
            pieces: Pieces::new(),
            file: None,
        }
    }
}

impl Drafts {
    /// Drafted frames go to a new temp file in `dir` named `<prefix>…<suffix>`.
    pub fn start(dir: &Path, prefix: &str, suffix: &str) -> Drafts {
        let mut drafts = Drafts {
            pieces: Pieces::new(),
            pool: None,
            piece: Vec::new(),
            next: 0,
            writer: None,
            file: None,
        };
        let Ok((path, file)) = Scratch::create_open_in(dir, prefix, suffix) else {
            return drafts;
        };
        let (done, frames) = frames_channel();
        let (pool, credits) = Pool::start(&done);
        drafts.pool = Some(pool);
        drafts.writer = Some(std::thread::spawn(move || {
            write_drafts(path, file, &frames, &credits)
        }));
        drafts.piece = Vec::with_capacity(FRAME);
        drafts
    }

    /// Hands the gathered piece to the workers.
    fn dispatch(&mut self) {
        let Some(pool) = &self.pool else { return };
        let piece = std::mem::replace(&mut self.piece, pool.buffer());
        let index = self.pieces.hashes.len();
        self.pieces.hashes.push(self.pieces.hash(&piece));
        if !pool.submit(index, piece) {
            self.pool = None;
        }
    }

    /// The image is final (or its export failed): the frames drafted so far.
    pub fn finish(mut self) -> Drafted {
        self.drafted();
        let file = self.file.take();
        let mut pieces = Pieces {
            seed: self.pieces.seed,
            hashes: std::mem::take(&mut self.pieces.hashes),
        };
        pieces
            .hashes
            .truncate(file.as_ref().map_or(0, DraftFile::slots));
        Drafted { pieces, file }
    }
}

impl ImageTap for Drafts {
    /// Compresses the rest of what was shown and waits for it to be written: the engine is
    /// about to take a lock on the live database, and this work must not compete with it.
    fn drafted(&mut self) {
        if !self.piece.is_empty() {
            self.dispatch();
        }
        // The workers end, then the writer, which has every frame by then.
        self.pool = None;
        if let Some(writer) = self.writer.take() {
            self.file = writer.join().ok().flatten();
        }
    }

    fn wrote(&mut self, offset: u64, mut bytes: &[u8]) {
        if self.pool.is_none() {
            return;
        }
        // Pieces are gathered in order only: a writer that jumps gets no more drafts.
        if offset != self.next {
            self.pool = None;
            return;
        }
        self.next += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (FRAME - self.piece.len()).min(bytes.len());
            self.piece.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.piece.len() == FRAME {
                self.dispatch();
            }
        }
    }
}

impl Drop for Drafts {
    fn drop(&mut self) {
        self.pool = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The workers' items in the order of their pieces (they finish in any order).
pub(super) struct InOrder<'a, T> {
    items: &'a mpsc::Receiver<(usize, T)>,
    waiting: BTreeMap<usize, T>,
}

impl<'a, T> InOrder<'a, T> {
    pub(super) fn new(items: &'a mpsc::Receiver<(usize, T)>) -> InOrder<'a, T> {
        InOrder {
            items,
            waiting: BTreeMap::new(),
        }
    }

    /// The item of piece `index`, once it has come; `None` when no more come.
    pub(super) fn take(&mut self, index: usize) -> Option<T> {
        loop {
            if let Some(item) = self.waiting.remove(&index) {
                return Some(item);
            }
            let (i, item) = self.items.recv().ok()?;
            self.waiting.insert(i, item);
        }
    }
}

/// Writes the drafted frames in the order of their pieces, as the workers finish them; stops
/// at the first one that failed (nothing after it can be kept in order).
fn write_drafts(
    path: Scratch,
    file: File,
    frames: &mpsc::Receiver<(usize, Item)>,
    credits: &Credits,
) -> Option<DraftFile> {
    let mut out = FlushBehind::new(file.try_clone().ok()?);
    let mut draft = DraftFile {
        path,
        file,
        offsets: vec![0],
    };
    let mut frames = InOrder::new(frames);
    while let Some(Item::Fresh(Ok(slot))) = frames.take(draft.slots()) {
        if out.write_all(&slot.bytes).is_err() {
            break;
        }
        credits.give_back();
        draft.offsets.push(out.written());
    }
    Some(draft)
}

/// A snapshot's compressed file, written and synced (still under its temp name).
pub struct Written {
    pub file: Scratch,
    /// The drafted file, when the snapshot's file is another: for the caller to remove when
    /// nothing waits for it (its removal takes a few fsyncs).
    pub unused: Option<Scratch>,
    /// The image's size and SHA-256, taken of the final image's bytes (which each frame holds:
    /// compressed from them, or from a drafted piece with the same seeded hash). The file's
    /// own is taken by the read-back, of the bytes it checks.
    pub image: Sum,
    /// The image's pieces, for the read-back.
    pub pieces: Pieces,
}

/// Writes the snapshot file of the final image `image`: drafted slots where `drafted` holds
/// the same piece, the other pieces compressed now on worker threads; hashes the image as it
/// is read; fsyncs the file. The drafted file (with the slots of
/// changed pieces rewritten in place), or, from the first piece that does not fit its slot, a
/// new file named `<prefix>…<suffix>` in `dir`.
pub fn write(
    image: &Path,
    drafted: Drafted,
    dir: &Path,
    (prefix, suffix): (&str, &str),
    bar: &ProgressBar,
) -> Result<Written> {
    let read_err = |e| store::write_error(image, e);
    let source = File::open(image).map_err(read_err)?;
    let len = source.metadata().map_err(read_err)?.len();
    let count = (len.div_ceil(FRAME as u64) as usize).max(1);
    let Drafted {
        mut pieces,
        file: draft,
    } = drafted;
    let drafted_hashes = std::mem::take(&mut pieces.hashes);
    let (done, frames) = frames_channel();
    let (pool, credits) = Pool::start(&done);
    let target = (dir.to_path_buf(), prefix.to_string(), suffix.to_string());
    let sequencer = std::thread::spawn(move || assemble(draft, &frames, &credits, count, &target));

    let mut sha = Sha256::new();
    let mut spare = None;
    let read = (|| -> Result<()> {
        for index in 0..count {
            let offset = (index * FRAME) as u64;
            let mut piece = spare.take().unwrap_or_else(|| pool.buffer());
            piece.resize((len - offset).min(FRAME as u64) as usize, 0);
            source.read_exact_at(&mut piece, offset).map_err(read_err)?;
            let hash = pieces.hash(&piece);
            sha.update(&piece);
            pieces.hashes.push(hash);
            bar.set_position(offset + piece.len() as u64);
            if drafted_hashes.get(index) == Some(&hash) {
                spare = Some(piece);
                if done.send((index, Item::Kept)).is_err() {
                    break;
                }
            } else if !pool.submit(index, piece) {
                break;
            }
        }
        Ok(())
    })();
    // The workers end, then the sequencer, which has every frame by then.
    drop(pool);
    drop(done);
    let assembled = sequencer
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("internal: the snapshot's writer died")));
    read?;
    let Assembled { file, out, unused } = assembled?;
    out.sync_all().map_err(|e| store::write_error(&file, e))?;
    if failpoint::active("garble-snapshot-write") {
        // Test-only: the file gets another first byte than the one written, as a faulty write
        // path would leave it; the read-back must refuse the snapshot.
        let mut first = [0u8];
        out.read_exact_at(&mut first, 0)
            .and_then(|()| out.write_all_at(&[first[0] ^ 0xff], 0))
            .map_err(|e| store::write_error(&file, e))?;
    }
    Ok(Written {
        file,
        unused,
        image: finish(sha, len),
        pieces,
    })
}

/// Where the sequencer's slots go: still the drafted file (its first `kept` slots), or a new
/// file that got the drafted file's first slots and goes on from there.
enum Out {
    Drafted { kept: usize },
    New { path: Scratch, out: FlushBehind },
}

/// What [`assemble`] made: the file, an open handle of it, and the drafted file when the file
/// is another.
struct Assembled {
    file: Scratch,
    out: File,
    unused: Option<Scratch>,
}

/// Puts the slots of pieces `0..count` in order as they come (see [`write`]): a piece compressed
/// again takes the place of its drafted slot when its frame fits there, else a new file goes on
/// from it.
fn assemble(
    draft: Option<DraftFile>,
    frames: &mpsc::Receiver<(usize, Item)>,
    credits: &Credits,
    count: usize,
    (dir, prefix, suffix): &(PathBuf, String, String),
) -> Result<Assembled> {
    let no_draft = || anyhow::anyhow!("internal: no draft");
    let mut to = Out::Drafted { kept: 0 };
    let mut frames = InOrder::new(frames);
    let mut buf = Vec::new();
    for index in 0..count {
        let Some(item) = frames.take(index) else {
            // The reader stopped early: its own error tells why.
            return Err(anyhow::anyhow!(
                "internal: the snapshot's pieces ended early"
            ));
        };
        let bytes = match (item, &mut to) {
            (Item::Kept, Out::Drafted { kept }) => {
                *kept += 1;
                continue;
            }
            (Item::Kept, Out::New { .. }) => {
                draft.as_ref().ok_or_else(no_draft)?.slot(index, &mut buf)?
            }
            (Item::Fresh(slot), to) => {
                credits.give_back();
                let slot = slot.map_err(|e| store::write_error(dir, e))?;
                if let Out::Drafted { kept } = to {
                    let drafted = draft.as_ref().and_then(|d| Some((d, d.len(index)?)));
                    match drafted.filter(|&(_, len)| slot.fits(len)) {
                        Some((draft, len)) => {
                            let fitted = slot.fitted(len);
                            store::write_all_at(&draft.file, &fitted, draft.offset(index))
                                .map_err(|e| store::write_error(&draft.path, e))?;
                            *kept += 1;
                            continue;
                        }
                        None => *to = start_new(draft.as_ref(), *kept, dir, prefix, suffix)?,
                    }
                }
                // Never rewritten in a new file: no padding.
                buf = slot.bytes;
                buf.truncate(slot.frame);
                &buf
            }
        };
        if let Out::New { path, out } = &mut to {
            out.write_all(bytes)
                .map_err(|e| store::write_error(path, e))?;
        }
    }
    match to {
        Out::Drafted { kept } => {
            let draft = draft.ok_or_else(no_draft)?;
            // Slots drafted past the image's end (the file shrank) are cut off.
            let bytes = draft.offset(kept);
            draft
                .file
                .set_len(bytes)
                .map_err(|e| store::write_error(&draft.path, e))?;
            Ok(Assembled {
                file: draft.path,
                out: draft.file,
                unused: None,
            })
        }
        Out::New { path, out } => {
            let file = out
                .get_ref()
                .try_clone()
                .map_err(|e| store::write_error(&path, e))?;
            Ok(Assembled {
                file: path,
                out: file,
                unused: draft.map(|d| d.path),
            })
        }
    }
}

/// A new file for the snapshot, starting with a copy of the first `kept` drafted slots.
fn start_new(
    draft: Option<&DraftFile>,
    kept: usize,
    dir: &Path,
    prefix: &str,
    suffix: &str,
) -> Result<Out> {
    let (path, file) = Scratch::create_open_in(dir, prefix, suffix)?;
    let mut out = FlushBehind::new(file);
    let Some(draft) = draft.filter(|_| kept > 0) else {
        return Ok(Out::New { path, out });
    };
    let bytes = draft.offset(kept);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < bytes {
        let n = (bytes - at).min(buf.len() as u64) as usize;
        draft
            .file
            .read_exact_at(&mut buf[..n], at)
            .map_err(|e| store::write_error(&draft.path, e))?;
        out.write_all(&buf[..n])
            .map_err(|e| store::write_error(&path, e))?;
        at += n as u64;
    }
    Ok(Out::New { path, out })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(dir: &Path, len: usize, salt: u8) -> PathBuf {
        let path = dir.join(format!("image-{len}-{salt}"));
        // Compressible but not constant, and different per piece.
        let bytes: Vec<u8> = (0..len)
            .map(|i| ((i / 1000) as u8).wrapping_mul(31) ^ salt ^ (i % 7) as u8)
            .collect();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn drafted_from(dir: &Path, image: &Path, step: usize) -> Drafted {
        let bytes = std::fs::read(image).unwrap();
        let mut drafts = Drafts::start(dir, ".tmp-test-", ".db.zst");
        for (i, chunk) in bytes.chunks(step).enumerate() {
            drafts.wrote((i * step) as u64, chunk);
        }
        drafts.finish()
    }

    fn written(dir: &Path, image: &Path, drafted: Drafted) -> Written {
        write(
            image,
            drafted,
            dir,
            (".tmp-test-", ".db.zst"),
            &ProgressBar::hidden(),
        )
        .unwrap()
    }

    /// The file decompresses to the image, and its sums are those of the image and the file.
    fn assert_is_snapshot_of(image: &Path, w: &Written) {
        let expected = std::fs::read(image).unwrap();
        let file = std::fs::read(&*w.file).unwrap();
        assert_eq!(zstd::stream::decode_all(&file[..]).unwrap(), expected);
        assert_eq!(w.image.bytes, expected.len() as u64);
        assert_eq!(w.image.digest[..], Sha256::digest(&expected)[..]);
        let mut check = w.pieces.check();
        check.update(&expected);
        assert_eq!(check.differs_at(), None);
    }

    fn temp_files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".tmp-test-")
            })
            .count()
    }

    #[test]
    fn an_image_drafted_as_it_ends_keeps_the_drafted_file() {
        let dir = tempfile::tempdir().unwrap();
        let image = image(dir.path(), 3 * FRAME + 12_345, 1);
        let drafted = drafted_from(dir.path(), &image, 1 << 20);
        let draft_path = drafted.file.as_ref().unwrap().path.to_path_buf();
        let w = written(dir.path(), &image, drafted);
        assert_eq!(
            *w.file, *draft_path,
            "every drafted frame kept: no second file"
        );
        assert_is_snapshot_of(&image, &w);
        assert_eq!(temp_files(dir.path()), 1);
    }

    #[test]
    fn pieces_changed_a_little_take_their_drafted_slots() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(dir.path(), 5 * FRAME, 1);
        let drafted = drafted_from(dir.path(), &path, 3 << 20);
        let draft_path = drafted.file.as_ref().unwrap().path.to_path_buf();
        // Piece 0 (as a header would) and piece 3 change after the draft.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0x55;
        bytes[3 * FRAME + 7] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let w = written(dir.path(), &path, drafted);
        assert_eq!(*w.file, *draft_path, "rewritten in place");
        assert!(w.unused.is_none());
        assert_is_snapshot_of(&path, &w);
    }

    #[test]
    fn pieces_changed_after_the_draft_are_compressed_again() {
        let dir = tempfile::tempdir().unwrap();
        let before = image(dir.path(), 5 * FRAME, 1);
        let drafted = drafted_from(dir.path(), &before, 3 << 20);
        // Piece 0 and piece 3 change; the image grows by a short piece, past the draft.
        let mut bytes = std::fs::read(&before).unwrap();
        bytes[100] ^= 0x55;
        bytes[3 * FRAME + 7] ^= 0x55;
        bytes.extend_from_slice(b"grown");
        std::fs::write(&before, &bytes).unwrap();
        let mut w = written(dir.path(), &before, drafted);
        assert_is_snapshot_of(&before, &w);
        drop(w.unused.take().expect("a new file, the drafted one unused"));
        assert_eq!(temp_files(dir.path()), 1, "the drafted file is removed");
    }

    #[test]
    fn a_piece_grown_past_its_slot_starts_a_new_file_after_the_slots_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image");
        // Piece 1 is zeros when drafted (a frame of a few bytes), random bytes when final.
        let mut bytes: Vec<u8> = (0..3 * FRAME).map(|i| (i / 5000) as u8).collect();
        bytes[FRAME..2 * FRAME].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        let drafted = drafted_from(dir.path(), &path, FRAME);
        let draft_path = drafted.file.as_ref().unwrap().path.to_path_buf();
        let mut noise = fastrand::Rng::with_seed(7);
        bytes[FRAME..2 * FRAME].fill_with(|| noise.u8(..));
        std::fs::write(&path, &bytes).unwrap();
        let w = written(dir.path(), &path, drafted);
        assert_ne!(*w.file, *draft_path);
        assert_is_snapshot_of(&path, &w);
    }

    #[test]
    fn a_later_change_keeps_the_drafted_frames_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(dir.path(), 4 * FRAME, 2);
        let drafted = drafted_from(dir.path(), &path, FRAME);
        let mut bytes = std::fs::read(&path).unwrap();
        // The image shrinks into its third piece.
        bytes.truncate(2 * FRAME + 10);
        std::fs::write(&path, &bytes).unwrap();
        let w = written(dir.path(), &path, drafted);
        assert_is_snapshot_of(&path, &w);
    }

    #[test]
    fn an_image_without_drafts_and_an_empty_one_are_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(dir.path(), 2 * FRAME + 1, 3);
        assert_is_snapshot_of(&path, &written(dir.path(), &path, Drafted::none()));
        let empty = image(dir.path(), 0, 3);
        assert_is_snapshot_of(&empty, &written(dir.path(), &empty, Drafted::none()));
    }

    #[test]
    fn drafts_written_out_of_order_are_dropped_not_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(dir.path(), 3 * FRAME, 4);
        let bytes = std::fs::read(&path).unwrap();
        let mut drafts = Drafts::start(dir.path(), ".tmp-test-", ".db.zst");
        drafts.wrote(0, &bytes[..FRAME]);
        drafts.wrote(2 * FRAME as u64, &bytes[2 * FRAME..]);
        let drafted = drafts.finish();
        assert_eq!(drafted.pieces.hashes.len(), 1);
        assert_is_snapshot_of(&path, &written(dir.path(), &path, drafted));
    }

    /// Once the engine says its draft is done (before it takes a lock), every frame it was
    /// shown is written: nothing compresses during the lock window.
    #[test]
    fn once_drafted_every_piece_shown_is_in_the_drafted_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(dir.path(), 2 * FRAME + 5, 5);
        let bytes = std::fs::read(&path).unwrap();
        let mut drafts = Drafts::start(dir.path(), ".tmp-test-", ".db.zst");
        drafts.wrote(0, &bytes);
        drafts.drafted();
        let file = drafts.file.as_ref().expect("the drafted file");
        assert_eq!(file.slots(), 3);
        let on_disk = std::fs::metadata(&*file.path).unwrap().len();
        assert_eq!(on_disk, file.offset(3));
        // Shown afterwards: not drafted.
        drafts.wrote(bytes.len() as u64, &[1; 100]);
        assert_eq!(drafts.finish().pieces.hashes.len(), 3);
    }

    #[test]
    fn the_piece_check_names_the_first_piece_that_differs() {
        let mut pieces = Pieces::new();
        let data: Vec<u8> = (0..2 * FRAME + 5).map(|i| (i % 251) as u8).collect();
        pieces.hashes = data.chunks(FRAME).map(|c| pieces.hash(c)).collect();
        let mut check = pieces.check();
        check.update(&data);
        assert_eq!(check.differs_at(), None);
        let mut other = data.clone();
        other[FRAME + 3] ^= 1;
        let mut check = pieces.check();
        for part in other.chunks(1000) {
            check.update(part);
        }
        assert_eq!(check.differs_at(), Some(FRAME as u64));
        let mut check = pieces.check();
        check.update(&data[..FRAME]);
        assert_eq!(
            check.differs_at(),
            Some(FRAME as u64),
            "a missing piece differs"
        );
    }
}
