//! IDX files (the MNIST format), raw or gzip-compressed, and directories in the MNIST layout.
//!
//! A gzip file is decompressed whole by libdeflate (the fastest inflater measured here: 1.3×
//! zlib-rs and 1.6× miniz_oxide on Fashion-MNIST's training images), straight into a buffer of
//! the size its header promises; any file that does not fit that path exactly (raw, damaged,
//! longer or shorter than promised) is read as a stream with flate2, which names the problem.

use std::collections::BTreeSet;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{data_error, open, unify_classes, Dataset, Split, Target};
use crate::{memory, Error, Matrix, Result};

/// Reads an IDX image file and its label file (each gzip-compressed or raw) as a
/// classification data set with one feature per pixel (values as stored, 0–255).
///
/// # Errors
/// Truncated or malformed files, or image and label counts that differ.
pub fn read_idx(images: &Path, labels: &Path) -> Result<Dataset> {
    let image_file = read_idx_file(images, 3)?;
    let label_file = read_idx_file(labels, 1)?;
    let (n, pixels) = (
        image_file.dims[0],
        image_file.dims[1].saturating_mul(image_file.dims[2]),
    );
    if n == 0 || pixels == 0 {
        let what = if n == 0 { "no images" } else { "images of no pixels" };
        let shape = format!("{n}×{}×{}", image_file.dims[1], image_file.dims[2]);
        return Err(data_error(
            images,
            0,
            0,
            format!("the IDX header promises {what} ({shape})"),
        ));
    }
    if label_file.dims[0] != n {
        return Err(data_error(
            labels,
            0,
            0,
            format!(
                "{} labels, but the image file {} holds {n} images",
                label_file.dims[0],
                images.display()
            ),
        ));
    }
    // A name per pixel: a String and its few bytes of text.
    crate::memory::check(
        &format!("naming the {pixels} pixels of {}", images.display()),
        crate::memory::bytes([pixels], 40),
    )?;
    // zeros first: the pages are not written until the conversion, so they can be huge ones
    let mut x = Matrix::zeros(n, pixels);
    x.as_mut_slice()
        .par_iter_mut()
        .zip(image_file.data().par_iter())
        .for_each(|(x, &p)| *x = f32::from(p));
    let values: BTreeSet<u8> = label_file.data().iter().copied().collect();
    let mut index = [0u32; 256];
    for (i, &v) in values.iter().enumerate() {
        index[usize::from(v)] = i as u32;
    }
    Ok(Dataset {
        x,
        feature_names: (0..pixels).map(|i| format!("px{i}")).collect(),
        target_name: "label".to_string(),
        target: Target::Classes {
            labels: label_file.data().iter().map(|&v| index[usize::from(v)]).collect(),
            classes: values.iter().map(u8::to_string).collect(),
        },
        images: true,
    })
}

/// Reads a directory in the MNIST layout (`train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`)
/// as a train/test split. A dot instead of the last dash (`train-images.idx3-ubyte`, as some
/// downloads name them) is accepted too.
///
/// # Errors
/// [`crate::Error::Io`] if the directory cannot be read, [`crate::Error::Data`] naming a file
/// that is missing, and the errors of [`read_idx`].
pub fn read_idx_dir(dir: &Path) -> Result<Split> {
    let metadata = std::fs::metadata(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(data_error(dir, 0, 0, "not a directory (expected the MNIST layout)"));
    }
    let find = |stem: &str, kind: &str| -> Result<PathBuf> {
        [format!("{stem}-{kind}"), format!("{stem}.{kind}")]
            .iter()
            .flat_map(|name| [format!("{name}.gz"), name.clone()])
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
            .ok_or_else(|| {
                data_error(
                    dir,
                    0,
                    0,
                    format!("missing {stem}-{kind} (or {stem}-{kind}.gz) in the MNIST layout"),
                )
            })
    };
    let train_files = (find("train-images", "idx3-ubyte")?, find("train-labels", "idx1-ubyte")?);
    let test_files = (find("t10k-images", "idx3-ubyte")?, find("t10k-labels", "idx1-ubyte")?);
    // Both sets at once (each gzip stream is decompressed by one thread).
    let (train, test) = rayon::join(
        || read_idx(&train_files.0, &train_files.1),
        || read_idx(&test_files.0, &test_files.1),
    );
    let (mut train, mut test) = (train?, test?);
    if train.feature_names.len() != test.feature_names.len() {
        return Err(data_error(
            dir,
            0,
            0,
            format!(
                "training images have {} pixels, test images {}",
                train.feature_names.len(),
                test.feature_names.len()
            ),
        ));
    }
    unify_classes(&mut train, &mut test)?;
    Ok(Split {
        train,
        test: Some(test),
    })
}

/// A decoded IDX file of unsigned bytes.
struct IdxFile {
    dims: Vec<usize>,
    /// The elements from `bytes[start]` on.
    bytes: Vec<u8>,
    start: usize,
}

impl IdxFile {
    fn data(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

/// A libdeflate decompressor, freed when dropped.
struct Inflater(std::ptr::NonNull<libdeflate_sys::libdeflate_decompressor>);

impl Inflater {
    fn new() -> Option<Self> {
        // SAFETY: no arguments; a null result (out of memory) is refused.
        std::ptr::NonNull::new(unsafe { libdeflate_sys::libdeflate_alloc_decompressor() }).map(Inflater)
    }

    /// Decompresses the gzip member that `input` begins with into `out`: the bytes of `input`
    /// it took and the bytes written, or `None` for bad data or too little room in `out`.
    fn member(&mut self, input: &[u8], out: &mut [u8]) -> Option<(usize, usize)> {
        let (mut taken, mut written) = (0, 0);
        // SAFETY: the decompressor is live; libdeflate reads at most `input.len()` bytes from
        // `input`, writes at most `out.len()` bytes to `out` and the two counts.
        let result = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut taken,
                &mut written,
            )
        };
        (result == libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS).then_some((taken, written))
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor`, freed once.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

/// The bytes an IDX header of unsigned bytes in `n_dims` dimensions promises, as the checks of
/// [`read_idx_file`] find them; `None` for any other header (that function explains it).
fn promised(header: &[u8], n_dims: usize) -> Option<Vec<usize>> {
    let valid = header.len() == 4 + 4 * n_dims && header[..3] == [0, 0, 0x08] && usize::from(header[3]) == n_dims;
    valid.then(|| {
        header[4..]
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect()
    })
}

/// The memory check before the elements of an IDX file are read: each byte becomes an f32 pixel
/// or a u32 label, 5 bytes each while both are held.
fn check_memory(path: &Path, dims: &[usize]) -> Result<String> {
    let shape = dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
    memory::check(
        &format!("{} ({shape} bytes)", path.display()),
        memory::bytes(dims.iter().copied(), 5),
    )?;
    Ok(shape)
}

/// Reads a gzip IDX file whole and decompresses it with libdeflate into a buffer of exactly the
/// size its header promises. `None` when the file is not gzip or does not decompress to exactly
/// that size (the stream reader then reads it and explains what is wrong).
fn read_gzip_whole(path: &Path, n_dims: usize) -> Result<Option<IdxFile>> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = open(path)?;
    let mut magic = [0u8; 2];
    if file.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Ok(None);
    }
    let len = file.metadata().map_err(io_error)?.len();
    memory::check(&format!("reading {}", path.display()), len)?;
    let mut gz = Vec::with_capacity(len as usize);
    gz.extend_from_slice(&magic);
    file.read_to_end(&mut gz).map_err(io_error)?;
    // The header, through flate2, to know the size before anything is allocated.
    let header_len = 4 + 4 * n_dims;
    let mut header = vec![0u8; header_len];
    if flate2::read::MultiGzDecoder::new(&gz[..])
        .read_exact(&mut header)
        .is_err()
    {
        return Ok(None);
    }
    let Some(dims) = promised(&header, n_dims) else {
        return Ok(None);
    };
    check_memory(path, &dims)?;
    let total = header_len as u64 + memory::bytes(dims.iter().copied(), 1);
    let (Ok(total), Some(mut inflater)) = (usize::try_from(total), Inflater::new()) else {
        return Ok(None);
    };
    let mut bytes = vec![0u8; total];
    let (mut taken, mut written) = (0, 0);
    while taken < gz.len() {
        let Some((more_taken, more_written)) = inflater.member(&gz[taken..], &mut bytes[written..]) else {
            return Ok(None);
        };
        taken += more_taken;
        written += more_written;
    }
    Ok((written == total).then_some(IdxFile {
        dims,
        bytes,
        start: header_len,
    }))
}

/// Reads an IDX file of unsigned bytes with `n_dims` dimensions, gunzipping it if needed.
///
/// The header is read first and the size it promises checked against the memory limit (one
/// byte per element and the `f32` or `u32` each becomes) before the elements are read; a file
/// holding fewer or more elements than promised is refused. Every error names the file.
fn read_idx_file(path: &Path, n_dims: usize) -> Result<IdxFile> {
    if let Some(file) = read_gzip_whole(path, n_dims)? {
        return Ok(file);
    }
    let error = |message: String| data_error(path, 0, 0, message);
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = open(path)?;
    let file_len = file.metadata().map_err(io_error)?.len();
    let mut buffered = std::io::BufReader::new(file);
    let gzipped = buffered.fill_buf().map_err(io_error)?.starts_with(&[0x1f, 0x8b]);
    let mut source: Box<dyn Read> = if gzipped {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    // Up to `n` bytes (fewer at the end of the file).
    let mut read = |n: u64| -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        match source.by_ref().take(n).read_to_end(&mut bytes) {
            Ok(_) => Ok(bytes),
            Err(e) if gzipped => Err(error(format!("corrupt gzip data: {e}"))),
            Err(e) => Err(io_error(e)),
        }
    };
    let magic_bytes = read(4)?;
    let [b0, b1, type_code, dims_count] = magic_bytes[..] else {
        return Err(error(format!(
            "truncated IDX file: {} bytes, too short for the 4-byte magic number",
            magic_bytes.len()
        )));
    };
    let magic = u32::from_be_bytes([b0, b1, type_code, dims_count]);
    if b0 != 0 || b1 != 0 {
        return Err(error(format!(
            "not an IDX file: bad magic number 0x{magic:08x} (expected 0x{:08x})",
            0x800 + n_dims
        )));
    }
    let type_name = match type_code {
        0x08 => None,
        0x09 => Some("signed bytes"),
        0x0b => Some("16-bit integers"),
        0x0c => Some("32-bit integers"),
        0x0d => Some("32-bit floats"),
        0x0e => Some("64-bit floats"),
        code => {
            return Err(error(format!(
                "not an IDX file: bad magic number 0x{magic:08x} (unknown element type 0x{code:02x})"
            )))
        }
    };
    if let Some(type_name) = type_name {
        return Err(error(format!(
            "unsupported IDX element type 0x{type_code:02x} ({type_name}): only unsigned bytes (0x08) are supported"
        )));
    }
    if usize::from(dims_count) != n_dims {
        let what = if n_dims == 3 { "image" } else { "label" };
        return Err(error(format!(
            "expected an IDX {what} file with {n_dims} dimension(s) (magic 0x{:08x}), found {dims_count} (magic 0x{magic:08x})",
            0x800 + n_dims,
        )));
    }
    let header_len = 4 + 4 * n_dims;
    let dim_bytes = read(4 * n_dims as u64)?;
    if dim_bytes.len() < 4 * n_dims {
        return Err(error(format!(
            "truncated IDX file: the header needs {header_len} bytes, found {}",
            4 + dim_bytes.len()
        )));
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let shape = check_memory(path, &dims)?;
    let size = memory::bytes(dims.iter().copied(), 1);
    if !gzipped && file_len != header_len as u64 + size {
        let found = file_len.saturating_sub(header_len as u64);
        let problem = if found < size {
            "truncated IDX file"
        } else {
            "IDX file longer than its header says"
        };
        return Err(error(format!(
            "{problem}: header promises {shape} bytes, found {found}"
        )));
    }
    let data = read(size)?;
    if (data.len() as u64) < size {
        return Err(error(format!(
            "truncated IDX file: header promises {shape} bytes, found {}",
            data.len()
        )));
    }
    if !read(1)?.is_empty() {
        return Err(error(format!(
            "IDX file longer than its header says: header promises {shape} bytes, found more"
        )));
    }
    Ok(IdxFile {
        dims,
        bytes: data,
        start: 0,
    })
}

#[cfg(test)]
mod tests;
