#!/usr/bin/env python3
# mkdirseed.py DIR OUT - a seed for the directory targets (fuzz-maildir,
# fuzz-mix, fuzz-mh): every file under DIR (one level of subdirectories)
# as name "\0%\n" content "\0%\n" ...
import os, sys
src, out = sys.argv[1], sys.argv[2]
parts = []
for root, dirs, files in sorted(os.walk(src)):
    for f in sorted(files):
        p = os.path.join(root, f)
        parts += [os.path.relpath(p, src).encode(), open(p, "rb").read()]
open(out, "wb").write(b"\0%\n".join(parts))
