"""A float32 matrix in an anonymous temporary file, appended in blocks of rows and read back by rows: the series of
10^6 points x 300 dates (1.2 GB) pass through it without being held in memory.

The file has no name (it is removed by the system when closed, also after a crash). Indexing reads like a
read-only array: by rows (an integer, a slice, indices or a mask), optionally followed by columns; only the rows
asked for are read, in windows of at most `WINDOW_ROWS` rows.
"""
from __future__ import annotations

import tempfile
from typing import Optional

import numpy as np

WINDOW_ROWS = 4096  # rows of one read (4096 x 300 dates: 4.9 MB)


def row_index(key, rows: int):
    """(indices, single) for a row key of a matrix of ``rows`` rows: an integer (single row), a slice, a list or
    array of indices (negative ones count from the end) or a boolean mask."""
    if isinstance(key, (int, np.integer)):
        index = int(key) + (rows if key < 0 else 0)
        if not 0 <= index < rows:
            raise IndexError(f"row {key} is out of range for {rows} rows")
        return np.array([index]), True
    if isinstance(key, slice):
        return np.arange(rows)[key], False
    index = np.asarray(key)
    if index.dtype == bool:
        if index.shape != (rows,):
            raise IndexError(f"a mask of {index.size} values for {rows} rows")
        return np.flatnonzero(index), False
    index = index.astype(np.int64).ravel()
    index = np.where(index < 0, index + rows, index)
    if index.size and (index.min() < 0 or index.max() >= rows):
        raise IndexError(f"row index out of range for {rows} rows")
    return index, False


def split_key(key):
    """(row key, column key or None) of an array index."""
    if isinstance(key, tuple):
        if len(key) != 2:
            raise IndexError("index rows, or rows and columns")
        return key
    return key, None


class RowStore:
    """A (rows, columns) float32 matrix on a temporary file; `append` blocks of rows, then index it by rows."""

    dtype = np.dtype(np.float32)

    def __init__(self, columns: int, folder: Optional[str] = None):
        self.columns = int(columns)
        self.rows = 0
        self._file = tempfile.TemporaryFile(prefix="subsidence-rows-", dir=folder)

    @property
    def shape(self):
        return self.rows, self.columns

    def __len__(self) -> int:
        return self.rows

    def append(self, block: np.ndarray) -> None:
        """Add rows at the end (converted to float32)."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[1] != self.columns:
            raise ValueError(f"a block of shape {block.shape} for a store of {self.columns} columns")
        self._file.seek(self.rows * self.columns * 4)
        self._file.write(block.data)
        self.rows += block.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows start to stop (a new array)."""
        out = np.empty((max(stop - start, 0), self.columns), dtype=np.float32)
        if out.size:
            self._file.seek(start * self.columns * 4)
            if self._file.readinto(out.data) != out.nbytes:
                raise OSError("the temporary series file is shorter than written (disk full?)")
        return out

    def take(self, index: np.ndarray) -> np.ndarray:
        """The rows at ``index`` (non-negative, any order, repeats allowed), read in windows of sorted rows."""
        unique = np.unique(index)
        rows = np.empty((unique.size, self.columns), dtype=np.float32)
        done = 0
        while done < unique.size:
            start = int(unique[done])
            end = int(np.searchsorted(unique, start + WINDOW_ROWS))
            rows[done:end] = self.read(start, int(unique[end - 1]) + 1)[unique[done:end] - start]
            done = end
        if unique.size == index.size and np.array_equal(unique, index):
            return rows
        return rows[np.searchsorted(unique, index)]

    def __getitem__(self, key) -> np.ndarray:
        rows_key, columns_key = split_key(key)
        if isinstance(rows_key, slice) and rows_key.step in (None, 1):
            start, stop, _ = rows_key.indices(self.rows)
            out = self.read(start, max(start, stop))
        else:
            index, single = row_index(rows_key, self.rows)
            out = self.take(index)
            if single:
                out = out[0]
        return out if columns_key is None else out[..., columns_key]

    def __array__(self, dtype=None):
        return self.read(0, self.rows) if dtype is None else self.read(0, self.rows).astype(dtype)

    def close(self) -> None:
        """Remove the file (also done when the store is garbage-collected)."""
        self._file.close()
