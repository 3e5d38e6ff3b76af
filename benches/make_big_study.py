#!/usr/bin/env python3
"""Write a chest-CT study archive of at least SIZE_MIB MiB, for upload benchmarks.

Slices are real CT DICOM objects made by ../shared/tools/make_ct_study.py (its phantom and
slice writer), stored without compression so the archive size is predictable. Studies of 256
slices at 512x512 are added until the size is reached.

Usage: make_big_study.py OUT.zip SIZE_MIB
"""
import os
import sys
import zipfile

import numpy as np
from pydicom.uid import generate_uid

here = os.path.dirname(os.path.abspath(__file__))
for candidate in (os.environ.get("TRIAGE_SHARED", ""), os.path.join(here, "../../shared"), "/work/shared"):
    tools = os.path.join(candidate, "tools")
    if os.path.exists(os.path.join(tools, "make_ct_study.py")):
        sys.path.insert(0, tools)
        break
import make_ct_study as m  # noqa: E402


def main():
    out, size_mib = sys.argv[1], int(sys.argv[2])
    target = size_mib << 20
    rng = np.random.default_rng(7)
    written, study_no = 0, 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        while written < target:
            study, series, frame = generate_uid(), generate_uid(), generate_uid()
            patient = f"B{study_no:04d}"
            vol = m.phantom("normal", 256, 512, rng)
            for i in range(256):
                data = m.slice_dataset(vol[i], i, study, series, frame, patient, 1.0)
                zf.writestr(f"{patient}/{series[-8:]}/IM{i + 1:05d}.dcm", data)
                written += len(data)
                if written >= target:
                    break
            study_no += 1
    print(out, os.path.getsize(out))


if __name__ == "__main__":
    main()
