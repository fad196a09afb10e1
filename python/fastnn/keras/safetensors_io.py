"""Read and write the safetensors format without the `safetensors` package.

Layout (https://huggingface.co/docs/safetensors, "Format"):
  8 bytes   little-endian u64 N, the header length
  N bytes   UTF-8 JSON: {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
            optional "__metadata__": {str: str}}; may be right-padded with spaces
  rest      the byte buffer: each tensor row-major little-endian at [begin, end) of the buffer,
            the tensors covering the buffer exactly, without holes or overlaps

Writing pads the header to a multiple of 8 bytes (so every tensor is 8-byte aligned, as the
reference writer does) and orders tensors by item size (widest first), then name. Reading validates offsets, sizes and shapes and
returns NumPy arrays (copies, so the file can be closed or overwritten). BF16 has no NumPy dtype:
it is read as float32 (exact widening).
"""
from __future__ import annotations

import json
import os
import struct
from typing import Mapping

import numpy as np

__all__ = ["save_file", "load_file", "load_file_and_metadata", "save", "load", "read_metadata", "write_atomic"]

# safetensors dtype name -> NumPy dtype (little-endian)
_DTYPES = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"),
}
_NAMES = {dt.newbyteorder("<") if dt.itemsize > 1 else dt: name for name, dt in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit


def _dtype_name(arr: np.ndarray, key: str) -> str:
    dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
    try:
        return _NAMES[dt]
    except KeyError:
        raise TypeError(f"safetensors: tensor {key!r} has dtype {arr.dtype}, which the format cannot "
                        f"store; supported: {', '.join(str(d) for d in _DTYPES.values())}") from None


def save(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors bytes of `tensors` (name -> array; CuPy arrays are copied to the host)."""
    header: dict = {}
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise TypeError(f"safetensors: metadata must map str to str, got non-str entries for {bad}")
        header["__metadata__"] = dict(metadata)
    arrays = {}
    for key, value in tensors.items():
        if not isinstance(key, str) or key == "__metadata__":
            raise ValueError(f"safetensors: tensor names must be str and not '__metadata__', got {key!r}")
        if hasattr(value, "get") and not isinstance(value, np.ndarray):  # CuPy -> host
            value = value.get()
        arrays[key] = np.asarray(value)
    blobs, offset = [], 0
    # widest items first, then by name: every tensor starts aligned to its item size
    for key in sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k)):
        arr = arrays[key]
        name = _dtype_name(arr, key)
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        header[key] = {"dtype": name, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_staged(path: str | os.PathLike, data: bytes) -> str:
    """Write `data` to a temp file beside `path` (flushed to disk) and return its name; `os.replace(tmp,
    path)` then publishes it in one step. On any failure the temp file is removed and `path` untouched."""
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Replace `path` by `data` all at once: a reader (or a crash) sees the old file or the new one,
    never a half-written one."""
    tmp = write_staged(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def save_file(tensors: Mapping[str, np.ndarray], path: str | os.PathLike,
              metadata: Mapping[str, str] | None = None) -> None:
    """Write `tensors` to `path` in the safetensors format (atomically: a temp file, then rename)."""
    write_atomic(path, save(tensors, metadata))


def _parse_header(buf: bytes | memoryview, where: str) -> tuple[dict, int]:
    if len(buf) < 8:
        raise ValueError(f"safetensors: {where} is {len(buf)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    if n > _MAX_HEADER or 8 + n > len(buf):
        raise ValueError(f"safetensors: {where} declares a {n}-byte header but has {len(buf) - 8} bytes after "
                         f"the length (limit {_MAX_HEADER})")
    raw = bytes(buf[8:8 + n])
    if not raw.startswith(b"{"):
        raise ValueError(f"safetensors: {where} header does not start with '{{'")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"safetensors: {where} header is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ValueError(f"safetensors: {where} header must be a JSON object")
    return header, 8 + n


def _read(buf: bytes | memoryview, where: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    header, start = _parse_header(buf, where)
    metadata = header.pop("__metadata__", None) or {}
    body = memoryview(buf)[start:]
    spans = []
    for key, info in header.items():
        try:
            dtype_name, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"safetensors: {where}: entry {key!r} needs dtype, shape and data_offsets [begin, end], "
                             f"got {info!r}") from None
        if dtype_name not in _DTYPES and dtype_name != "BF16":
            raise TypeError(f"safetensors: {where}: tensor {key!r} has dtype {dtype_name}, not readable here "
                            f"(supported: {', '.join([*_DTYPES, 'BF16'])})")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"safetensors: {where}: tensor {key!r} has a bad shape {shape!r}")
        itemsize = 2 if dtype_name == "BF16" else _DTYPES[dtype_name].itemsize
        nbytes = int(np.prod(shape, dtype=np.int64)) * itemsize
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= len(body)):
            raise ValueError(f"safetensors: {where}: tensor {key!r} offsets [{begin}, {end}] outside the "
                             f"{len(body)}-byte buffer")
        if end - begin != nbytes:
            raise ValueError(f"safetensors: {where}: tensor {key!r} of shape {shape} and dtype {dtype_name} needs "
                             f"{nbytes} bytes, its offsets span {end - begin}")
        spans.append((begin, end, key, dtype_name, shape))
    spans.sort()
    pos = 0
    for begin, end, key, _, _ in spans:
        if begin != pos:
            raise ValueError(f"safetensors: {where}: tensor {key!r} starts at byte {begin}, expected {pos} "
                             f"(tensors must cover the buffer without holes or overlaps)")
        pos = end
    if pos != len(body):
        raise ValueError(f"safetensors: {where}: tensors cover {pos} bytes of a {len(body)}-byte buffer")
    out = {}
    for begin, end, key, dtype_name, shape in spans:
        chunk = body[begin:end]
        if dtype_name == "BF16":  # bf16 is the high half of a float32
            bits = np.frombuffer(chunk, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(chunk, dtype=_DTYPES[dtype_name]).astype(_DTYPES[dtype_name].newbyteorder("="))
        out[key] = arr.reshape(shape)
    return out, {str(k): str(v) for k, v in metadata.items()}


def load(data: bytes) -> dict[str, np.ndarray]:
    """The tensors in safetensors `data` (bytes)."""
    return _read(data, "data")[0]


def load_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors stored in the safetensors file at `path`, as NumPy arrays."""
    with open(path, "rb") as f:
        return _read(f.read(), os.fspath(path))[0]


def load_file_and_metadata(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, `__metadata__`) of the safetensors file at `path`, reading it once."""
    with open(path, "rb") as f:
        return _read(f.read(), os.fspath(path))


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The `__metadata__` of the safetensors file at `path` (empty when absent)."""
    with open(path, "rb") as f:
        return _read(f.read(), os.fspath(path))[1]
