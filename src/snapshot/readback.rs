//! Reading a snapshot's compressed file back (design.md §3.4, §4): decompresses it, hashing
//! both sides, and says what differs from its manifest (exit 4). A file of frames that each
//! hold at most [`FRAME`] bytes, as `frames` writes them, is decompressed by worker threads a
//! frame each and handed on in order; any other (a streamed snapshot: one frame of unknown
//! size) by zstd's stream decoder.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use anyhow::Result;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use super::frames::{self, InOrder, FRAME, SKIPPABLE_HEADER, SKIPPABLE_MAGIC};
use super::{compress_workers, finish, HashWriter, Manifest, SnapshotError, Sum, BUF};

/// Reads the compressed file, hashing it; remembers a failed read (the file's fault, not the
/// decoder's).
struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    failed: Option<String>,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.failed.get_or_insert_with(|| e.to_string());
            }
        })?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// What the decompress-and-check pass recomputes.
pub(super) enum Rehash {
    /// Every checksum: `snapshot verify`, restore, diff, a fetched replica.
    All,
    /// A streamed snapshot just written: the compressed file's SHA-256 and zstd's frame
    /// checksum of the decompressed bytes, which the compressor took of the very bytes the
    /// image's SHA-256 was taken of. Hashing the image a second time proves nothing more and
    /// costs a pass of SHA-256 over the largest file (design.md §3.4).
    JustWritten,
    /// A snapshot of an image file just written: as [`Rehash::JustWritten`], and every piece of
    /// the decompressed bytes has the seeded hash of the image's piece (a kept frame was made
    /// of a drafted piece, not of the bytes the SHA-256 was taken of).
    Pieces(frames::Pieces),
}

/// Decompresses the snapshot file `zst` into `out`, checking it against the manifest: size,
/// compressed checksum, zstd's frame checksum, image checksum and size. Exit 4 naming the file
/// and what differs.
pub(super) fn check_compressed<W: Write>(
    zst: &Path,
    m: &Manifest,
    out: W,
    bar: &ProgressBar,
    rehash: Rehash,
) -> Result<()> {
    let path = || zst.to_path_buf();
    let file = File::open(zst).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            SnapshotError::DataMissing {
                id: m.id.clone(),
                path: path(),
            }
        } else {
            SnapshotError::DataUnreadable {
                path: path(),
                err: e.to_string(),
            }
        }
    })?;
    let actual_len = file.metadata().map(|md| md.len()).unwrap_or(0);
    check_file_size(zst, m, actual_len)?;
    decode(file, out, bar, rehash).judge(zst, m)
}

pub(super) fn check_file_size(zst: &Path, m: &Manifest, actual: u64) -> Result<()> {
    if actual != m.file_bytes {
        return Err(SnapshotError::FileSize {
            path: zst.to_path_buf(),
            manifest: m.file_bytes,
            actual,
        }
        .into());
    }
    Ok(())
}

/// What one pass over a compressed file found: its checksum, whether it decompressed, and the
/// image's size (and checksum, when [`Rehash::All`]; where its pieces differ, when
/// [`Rehash::Pieces`]).
pub(super) struct Decoded {
    /// A read of the compressed file that failed (an I/O error, not what it holds).
    unreadable: Option<String>,
    pub(super) file_sum: Sum,
    decoded: io::Result<()>,
    pub(super) image_sum: Sum,
    rehashed: bool,
    differs_at: Option<u64>,
}

/// Decompresses `file` into `out`, hashing both sides (see [`Decoded`]). A file of frames
/// that each hold at most [`FRAME`] bytes (an image file's snapshot, `frames`) is
/// decompressed a frame per worker thread, its bytes handed on in order; any other file (a
/// streamed snapshot: one frame of unknown size) by one stream decoder.
pub(super) fn decode<R: Read, W: Write>(
    file: R,
    out: W,
    bar: &ProgressBar,
    rehash: Rehash,
) -> Decoded {
    let mut reader = HashReader {
        inner: file,
        hasher: Sha256::new(),
        bytes: 0,
        failed: None,
    };
    let rehashed = matches!(rehash, Rehash::All);
    let mut image = ImageOut {
        out: HashWriter {
            inner: out,
            hasher: Sha256::new(),
            bytes: 0,
            hashing: rehashed,
        },
        pieces: match &rehash {
            Rehash::Pieces(pieces) => Some(pieces.check()),
            Rehash::All | Rehash::JustWritten => None,
        },
        bar,
    };
    let decoded = (|| -> io::Result<()> {
        let mut frames = FrameReader::new(&mut reader);
        if frames.holds_pieces()? {
            match in_parallel(&mut frames, &mut image) {
                Some(Ok(Ended::AtTheEnd)) => return Ok(()),
                Some(Err(e)) => return Err(e),
                // The rest (from a frame that is not a piece) or all of it, in one stream.
                Some(Ok(Ended::AtOtherFrame)) | None => {}
            }
        }
        in_one_stream(frames.into_rest(), &mut image)
    })()
    .and_then(|()| image.out.flush());
    // Hash the rest too, so a damaged file is reported as such rather than as a zstd error.
    let _ = io::copy(&mut reader, &mut io::sink());
    Decoded {
        unreadable: reader.failed,
        file_sum: finish(reader.hasher, reader.bytes),
        decoded,
        image_sum: finish(image.out.hasher, image.out.bytes),
        rehashed,
        differs_at: image.pieces.and_then(|p| p.differs_at()),
    }
}

/// Where decompressed bytes go, in order: the caller's writer, hashed, and the piece check.
struct ImageOut<'a, 'p, W> {
    out: HashWriter<W>,
    pieces: Option<frames::PieceCheck<'p>>,
    bar: &'a ProgressBar,
}

impl<W: Write> ImageOut<'_, '_, W> {
    fn take(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        if let Some(pieces) = &mut self.pieces {
            pieces.update(bytes);
        }
        self.bar.inc(bytes.len() as u64);
        Ok(())
    }
}

/// One frame or many, one after the other, through zstd's stream decoder.
fn in_one_stream<R: Read, W: Write>(file: R, image: &mut ImageOut<'_, '_, W>) -> io::Result<()> {
    let mut decoder = zstd::stream::read::Decoder::new(file)?;
    let mut buf = vec![0u8; BUF];
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => image.take(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Where [`in_parallel`] stopped.
enum Ended {
    AtTheEnd,
    /// At a frame that is not a piece (of unknown size, or larger): the stream decoder goes on.
    AtOtherFrame,
}

/// Decompresses the frames of `frames` on worker threads, a few at a time, and hands their
/// bytes to `image` in order. `None` when no worker could be started (nothing was read then).
fn in_parallel<R: Read, W: Write>(
    frames: &mut FrameReader<'_, R>,
    image: &mut ImageOut<'_, '_, W>,
) -> Option<io::Result<Ended>> {
    let count = compress_workers() as usize;
    // A frame per worker in flight (each holds up to a piece decompressed, and its frame).
    let in_flight = count;
    std::thread::scope(|scope| {
        let (jobs, queue) = mpsc::sync_channel::<(usize, Job)>(in_flight);
        let queue = Arc::new(Mutex::new(queue));
        let (done, results) = mpsc::channel::<(usize, Job)>();
        let mut started = 0;
        for _ in 0..count {
            let (queue, done) = (Arc::clone(&queue), done.clone());
            let worker = std::thread::Builder::new().spawn_scoped(scope, move || {
                let mut zstd = None;
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((index, mut job)) = job else { return };
                    // Every frame handed over gets its result, or the order waits for it.
                    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        decompress_frame(&mut zstd, &mut job)
                    }));
                    job.decoded = caught.unwrap_or_else(|_| {
                        zstd = None;
                        Err(io::Error::other("decompression failed"))
                    });
                    if done.send((index, job)).is_err() {
                        return;
                    }
                }
            });
            started += usize::from(worker.is_ok());
        }
        drop(done);
        if started == 0 {
            return None;
        }
        let mut results = InOrder::new(&results);
        let (mut sent, mut taken) = (0usize, 0usize);
        let mut spare: Vec<Job> = Vec::new();
        let mut failed: Option<io::Error> = None;
        let mut ended = None;
        loop {
            while ended.is_none() && failed.is_none() && sent - taken < in_flight {
                let mut job = spare.pop().unwrap_or_else(Job::new);
                match frames.next(&mut job.frame) {
                    Ok(Next::Piece(size)) => {
                        job.size = size;
                        if jobs.send((sent, job)).is_err() {
                            failed = Some(io::Error::other("decompression failed"));
                        } else {
                            sent += 1;
                        }
                    }
                    Ok(Next::End) => ended = Some(Ended::AtTheEnd),
                    Ok(Next::Other) => ended = Some(Ended::AtOtherFrame),
                    Err(e) => failed = Some(e),
                }
            }
            if taken == sent {
                break;
            }
            let Some(mut job) = results.take(taken) else {
                failed.get_or_insert_with(|| io::Error::other("decompression failed"));
                break;
            };
            taken += 1;
            // After the first failure in order, nothing more goes to `image`.
            if failed.is_none() {
                let decoded = std::mem::replace(&mut job.decoded, Ok(()));
                if let Err(e) = decoded.and_then(|()| image.take(&job.out)) {
                    failed = Some(e);
                }
            }
            spare.push(job);
        }
        drop(jobs);
        Some(match failed {
            Some(e) => Err(e),
            None => Ok(ended.unwrap_or(Ended::AtTheEnd)),
        })
    })
}

/// A frame on its way through a worker, with the buffers it brings back for the next.
struct Job {
    frame: Vec<u8>,
    /// The frame's content size, from its header.
    size: usize,
    out: Vec<u8>,
    decoded: io::Result<()>,
}

impl Job {
    /// Its buffers are made here, on the thread that hands the frames out, so that they come
    /// from that thread's heap, not from each worker's.
    fn new() -> Job {
        Job {
            frame: Vec::new(),
            size: 0,
            out: Vec::with_capacity(FRAME),
            decoded: Ok(()),
        }
    }
}

/// Decompresses `job.frame` into `job.out` (zstd checks the content size and checksum).
fn decompress_frame(
    zstd: &mut Option<zstd::bulk::Decompressor<'static>>,
    job: &mut Job,
) -> io::Result<()> {
    let zstd = match zstd {
        Some(zstd) => zstd,
        None => zstd.insert(zstd::bulk::Decompressor::new()?),
    };
    job.out.clear();
    job.out.reserve(job.size);
    let n = zstd.decompress_to_buffer(&job.frame, &mut job.out)?;
    if n != job.size {
        return Err(io::Error::other("a frame holds other than its size"));
    }
    Ok(())
}

/// Splits a compressed file into its zstd frames, passing over skippable ones, without
/// decompressing: a frame's length is found from its block headers, once the buffer holds as
/// much as a frame of [`FRAME`] bytes can take.
struct FrameReader<'r, R> {
    file: &'r mut R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// The most a frame of at most [`FRAME`] bytes can take, compressed.
    largest: usize,
}

/// A zstd frame's magic number (a skippable frame's: [`SKIPPABLE_MAGIC`], any of 16).
const FRAME_MAGIC: u32 = 0xFD2F_B528;
/// The most a zstd frame's header takes: its content size is known from this many bytes.
const FRAME_HEADER_MAX: usize = 18;

/// What [`FrameReader::next`] found.
enum Next {
    /// A frame of known size, at most [`FRAME`] bytes.
    Piece(usize),
    /// Any other frame, left unread.
    Other,
    End,
}

impl<'r, R: Read> FrameReader<'r, R> {
    fn new(file: &'r mut R) -> FrameReader<'r, R> {
        let largest = zstd::zstd_safe::compress_bound(FRAME) + 64;
        FrameReader {
            file,
            buf: vec![0; largest + BUF],
            start: 0,
            end: 0,
            eof: false,
            largest,
        }
    }

    fn held(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads until `want` bytes are held, or the file ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while self.end - self.start < want && !self.eof {
            if self.end == self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            }
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether the file starts with a frame of known size, at most [`FRAME`] bytes: one that
    /// `frames` writes.
    fn holds_pieces(&mut self) -> io::Result<bool> {
        self.fill(self.largest)?;
        let held = self.held();
        Ok(held.len() >= 4
            && u32::from_le_bytes([held[0], held[1], held[2], held[3]]) == FRAME_MAGIC
            && piece_size(held).is_some())
    }

    /// The next zstd frame, copied into `frame` when it is a piece (see [`Next`]).
    fn next(&mut self, frame: &mut Vec<u8>) -> io::Result<Next> {
        loop {
            self.fill(SKIPPABLE_HEADER)?;
            let held = self.held();
            if held.is_empty() {
                return Ok(Next::End);
            }
            if held.len() < SKIPPABLE_HEADER {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let magic = u32::from_le_bytes([held[0], held[1], held[2], held[3]]);
            if magic & 0xFFFF_FFF0 == SKIPPABLE_MAGIC {
                let len = u32::from_le_bytes([held[4], held[5], held[6], held[7]]);
                self.skip(SKIPPABLE_HEADER as u64 + u64::from(len))?;
                continue;
            }
            self.fill(FRAME_HEADER_MAX)?;
            let Some(size) = piece_size(self.held()) else {
                return Ok(Next::Other);
            };
            // Usually the whole frame is held already; else as much as a piece's frame can take.
            let len = match zstd::zstd_safe::find_frame_compressed_size(self.held()) {
                Ok(len) => len,
                Err(_) => {
                    self.fill(self.largest)?;
                    match zstd::zstd_safe::find_frame_compressed_size(self.held()) {
                        Ok(len) => len,
                        // Larger than zstd makes a piece's frame (another encoder's, or
                        // damaged): the stream decoder judges it.
                        Err(_) if !self.eof => return Ok(Next::Other),
                        Err(code) => {
                            let name = zstd::zstd_safe::get_error_name(code);
                            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, name));
                        }
                    }
                }
            };
            frame.clear();
            frame.extend_from_slice(&self.held()[..len]);
            self.start += len;
            return Ok(Next::Piece(size));
        }
    }

    /// Passes over `len` bytes (a skippable frame).
    fn skip(&mut self, len: u64) -> io::Result<()> {
        let held = (self.end - self.start) as u64;
        let from_buf = held.min(len);
        self.start += from_buf as usize;
        let rest = len - from_buf;
        if rest > 0 {
            let skipped = io::copy(&mut self.file.by_ref().take(rest), &mut io::sink())?;
            if skipped < rest {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// What was read but not split, then the rest of the file (for the stream decoder).
    fn into_rest(self) -> impl Read + 'r {
        let held = self.buf[self.start..self.end].to_vec();
        io::Cursor::new(held).chain(self.file)
    }
}

/// The content size of the zstd frame at the start of `held`, when its header says it and it
/// is at most [`FRAME`].
fn piece_size(held: &[u8]) -> Option<usize> {
    let size = zstd::zstd_safe::get_frame_content_size(held).ok()??;
    (size <= FRAME as u64).then_some(size as usize)
}

impl Decoded {
    /// Exit 4 naming the file `zst` when it could not be read to its end.
    pub(super) fn read_through(&self, zst: &Path) -> Result<()> {
        match &self.unreadable {
            Some(err) => Err(SnapshotError::DataUnreadable {
                path: zst.to_path_buf(),
                err: err.clone(),
            }
            .into()),
            None => Ok(()),
        }
    }

    /// Exit 4 naming the file `zst` and the first thing that differs from manifest `m`.
    pub(super) fn judge(self, zst: &Path, m: &Manifest) -> Result<()> {
        self.read_through(zst)?;
        let path = || zst.to_path_buf();
        let Decoded {
            unreadable: _,
            file_sum,
            decoded,
            image_sum,
            rehashed,
            differs_at,
        } = self;
        if file_sum.hex() != m.file_sha256 {
            return Err(SnapshotError::FileChecksum {
                path: path(),
                manifest: m.file_sha256.clone(),
                actual: file_sum.hex(),
            }
            .into());
        }
        if let Err(e) = decoded {
            if e.kind() == io::ErrorKind::Other || e.kind() == io::ErrorKind::UnexpectedEof {
                return Err(SnapshotError::Undecompressable {
                    path: path(),
                    err: e.to_string(),
                }
                .into());
            }
            return Err(anyhow::Error::from(e).context(SnapshotError::WritingImage));
        }
        if image_sum.bytes != m.image_bytes {
            return Err(SnapshotError::ImageSize {
                path: path(),
                manifest: m.image_bytes,
                actual: image_sum.bytes,
            }
            .into());
        }
        if let Some(at) = differs_at {
            return Err(SnapshotError::ImageDiffers { path: path(), at }.into());
        }
        if rehashed && image_sum.hex() != m.image_sha256 {
            return Err(SnapshotError::ImageChecksum {
                path: path(),
                manifest: m.image_sha256.clone(),
                actual: image_sum.hex(),
            }
            .into());
        }
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Compressible bytes that differ from piece to piece.
    fn image(len: usize) -> Vec<u8> {
        (0..len).map(|i| ((i / 3001) ^ (i % 7)) as u8).collect()
    }

    fn frame(bytes: &[u8]) -> Vec<u8> {
        let mut zstd = zstd::bulk::Compressor::new(3).unwrap();
        zstd.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
            .unwrap();
        zstd.compress(bytes).unwrap()
    }

    fn skippable(len: u32) -> Vec<u8> {
        let mut bytes = (SKIPPABLE_MAGIC + 3).to_le_bytes().to_vec();
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.resize(8 + len as usize, 0xAB);
        bytes
    }

    /// Frames of pieces, with skippable frames between them, each made here (not by `frames`).
    fn framed(image: &[u8]) -> Vec<u8> {
        let mut file = Vec::new();
        for (i, piece) in image.chunks(FRAME).enumerate() {
            file.extend(frame(piece));
            file.extend(skippable(17 * i as u32));
        }
        file
    }

    fn decode_all(file: &[u8]) -> (Decoded, Vec<u8>) {
        let mut out = Vec::new();
        let decoded = decode(file, &mut out, &ProgressBar::hidden(), Rehash::All);
        (decoded, out)
    }

    #[test]
    fn frames_of_pieces_are_decompressed_on_workers_and_handed_on_in_order() {
        let image = image(5 * FRAME + 12_345);
        let file = framed(&image);
        assert!(FrameReader::new(&mut &file[..]).holds_pieces().unwrap());
        let (decoded, out) = decode_all(&file);
        decoded.decoded.as_ref().unwrap();
        assert!(out == image, "the image, in order");
        assert_eq!(
            decoded.image_sum.digest,
            <[u8; 32]>::from(Sha256::digest(&image))
        );
        assert_eq!(
            decoded.file_sum.digest,
            <[u8; 32]>::from(Sha256::digest(&file))
        );
        assert_eq!(decoded.file_sum.bytes, file.len() as u64);
    }

    #[test]
    fn the_pieces_check_runs_on_frames_decompressed_in_parallel() {
        let dir = tempfile::tempdir().unwrap();
        let image = image(3 * FRAME + 99);
        let path = dir.path().join("image.db");
        std::fs::write(&path, &image).unwrap();
        let names = (".tmp-test-", ".db.zst");
        let none = frames::Drafted::none();
        let written =
            frames::write(&path, none, dir.path(), names, &ProgressBar::hidden()).unwrap();
        let file = std::fs::read(&*written.file).unwrap();
        let read_back = |pieces: frames::Pieces| {
            decode(
                &file[..],
                io::sink(),
                &ProgressBar::hidden(),
                Rehash::Pieces(pieces),
            )
        };
        let good = read_back(written.pieces.clone());
        assert_eq!(good.differs_at, None);
        // Pieces of an image whose third piece differs: the read-back names that piece.
        let mut other = image.clone();
        other[2 * FRAME + 5] ^= 1;
        std::fs::write(&path, &other).unwrap();
        let none = frames::Drafted::none();
        let of_other =
            frames::write(&path, none, dir.path(), names, &ProgressBar::hidden()).unwrap();
        assert_eq!(
            read_back(of_other.pieces).differs_at,
            Some(2 * FRAME as u64)
        );
    }

    /// A large piece first, then small ones: the workers finish them out of order.
    #[test]
    fn pieces_finished_out_of_order_are_handed_on_in_order() {
        let mut image = image(FRAME);
        let mut file = framed(&image);
        for i in 0..40u32 {
            let piece: Vec<u8> = (0..100 + i).map(|b| (b * i) as u8).collect();
            file.extend(frame(&piece));
            image.extend(piece);
        }
        let (decoded, out) = decode_all(&file);
        decoded.decoded.unwrap();
        assert!(out == image);
    }

    #[test]
    fn a_damaged_or_cut_frame_among_pieces_is_an_error_of_the_file() {
        let image = image(4 * FRAME);
        let file = framed(&image);
        let second = frame(&image[..FRAME]).len() + skippable(0).len();
        let last = file.len() - frame(&image[3 * FRAME..]).len() - skippable(51).len();
        // Damaged while the frames after it are in flight: no hang, the file is at fault.
        for at in [100, second + 1000] {
            let mut damaged = file.clone();
            damaged[at] ^= 0x55;
            let (decoded, _) = decode_all(&damaged);
            let err = decoded.decoded.unwrap_err();
            assert!(matches!(err.kind(), io::ErrorKind::Other), "{err}");
            let hashed = decoded.file_sum.bytes;
            assert_eq!(hashed, file.len() as u64, "the whole file is hashed");
        }
        for cut in [second + 1000, second + 5, last + 10, file.len() - 3] {
            let (decoded, _) = decode_all(&file[..cut]);
            let err = decoded.decoded.unwrap_err();
            let kind = err.kind();
            let expected = [io::ErrorKind::Other, io::ErrorKind::UnexpectedEof];
            assert!(expected.contains(&kind), "cut at {cut}: {err}");
        }
        // Cut between two frames the file is whole frames: a shorter image (the manifest's
        // size tells it apart).
        let (decoded, out) = decode_all(&file[..second]);
        decoded.decoded.unwrap();
        assert!(out == image[..FRAME]);
        // A skippable frame that says it goes on far past the end.
        let mut long = file[..second].to_vec();
        long.extend(&skippable(10)[..4]);
        long.extend(u32::MAX.to_le_bytes());
        let err = decode_all(&long).0.decoded.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// A read of the file that fails is the file's being unreadable, not undecompressable.
    #[test]
    fn a_failed_read_of_the_file_is_named_as_such() {
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("Input/output error"));
                }
                self.0.read(buf)
            }
        }
        let file = framed(&image(2 * FRAME));
        let half = Failing(&file[..file.len() / 2]);
        let decoded = decode(half, io::sink(), &ProgressBar::hidden(), Rehash::All);
        let err = decoded.read_through(Path::new("x.db.zst")).unwrap_err();
        assert!(matches!(
            err.downcast_ref::<SnapshotError>(),
            Some(SnapshotError::DataUnreadable { .. })
        ));
    }

    /// Any valid zstd file decompresses: from a frame that is not a piece (larger, or of
    /// unknown size) zstd's stream decoder goes on.
    #[test]
    fn a_frame_other_than_a_piece_among_pieces_goes_through_the_stream_decoder() {
        let image = image(4 * FRAME);
        let mut file = frame(&image[..FRAME]);
        file.extend(frame(&image[FRAME..3 * FRAME]));
        let mut streamed = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        streamed.write_all(&image[3 * FRAME..]).unwrap();
        file.extend(streamed.finish().unwrap());
        let (decoded, out) = decode_all(&file);
        decoded.decoded.unwrap();
        assert!(out == image);
        // Cut inside the streamed frame: the stream decoder says so.
        let (decoded, _) = decode_all(&file[..file.len() - 10]);
        let err = decoded.decoded.unwrap_err();
        let expected = [io::ErrorKind::Other, io::ErrorKind::UnexpectedEof];
        assert!(expected.contains(&err.kind()), "{err}");
    }

    #[test]
    fn a_file_that_starts_with_a_large_frame_goes_through_the_stream_decoder() {
        let image = image(FRAME + 1);
        let file = frame(&image);
        assert!(!FrameReader::new(&mut &file[..]).holds_pieces().unwrap());
        let (decoded, out) = decode_all(&file);
        decoded.decoded.unwrap();
        assert!(out == image);
    }
}
