#!/usr/bin/env python3
"""Opens the engine's mask files with the tools their users have: for every series folder
OUT/<series uid>/ written by `cargo run -p triage-visual --example artefacts -- ARCHIVE OUT`,
mask.nii.gz with nibabel (shape and affine computed independently from the source DICOM
files with pydicom) and seg.dcm with highdicom (segments, source series, frames). Exits non-zero
on the first mismatch.

usage: check_artefacts.py ARCHIVE OUT
"""
import io
import pathlib
import sys
import zipfile

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom


def source_series(archive):
    """series uid -> slices (pydicom datasets without pixel data) sorted along the normal."""
    series = {}
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if data[128:132] != b"DICM":
                continue
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
            series.setdefault(ds.SeriesInstanceUID, []).append(ds)
    for slices in series.values():
        o = np.array(slices[0].ImageOrientationPatient, float)
        normal = np.cross(o[:3], o[3:])
        slices.sort(key=lambda ds: float(np.dot(normal, np.array(ds.ImagePositionPatient, float))))
    return series


def expected_affine(slices):
    """Voxel (column, row, slice) -> RAS mm, from the DICOM geometry (PS3.3 C.7.6.2.1.1)."""
    first, last = slices[0], slices[-1]
    o = np.array(first.ImageOrientationPatient, float)
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    p0 = np.array(first.ImagePositionPatient, float)
    step = (np.array(last.ImagePositionPatient, float) - p0) / (len(slices) - 1)
    lps = np.eye(4)
    lps[:3, 0] = o[:3] * column_spacing
    lps[:3, 1] = o[3:] * row_spacing
    lps[:3, 2] = step
    lps[:3, 3] = p0
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def main(archive, out):
    series = source_series(archive)
    checked = 0
    for folder in sorted(pathlib.Path(out).iterdir()):
        slices = series[folder.name]
        first = slices[0]

        img = nib.load(folder / "mask.nii.gz")
        shape = (int(first.Columns), int(first.Rows), len(slices))
        assert img.shape == shape, f"{folder.name}: NIfTI shape {img.shape} != {shape}"
        want = expected_affine(slices)
        assert np.allclose(img.affine, want, atol=1e-3), f"affine\n{img.affine}\n!=\n{want}"
        assert np.allclose(img.header.get_qform(), want, atol=1e-3), "qform differs"
        labels = np.asarray(img.dataobj)
        assert set(np.unique(labels)) <= {0, 1, 2, 3}
        assert (labels > 0).any(), "no lung voxel"

        seg = hd.seg.segread(folder / "seg.dcm")
        assert seg.number_of_segments == 3, seg.number_of_segments
        assert [seg.get_segment_description(n).SegmentLabel for n in (1, 2, 3)][0] == "Lung"
        referenced = {s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence}
        assert referenced == {folder.name}, referenced
        assert seg.StudyInstanceUID == first.StudyInstanceUID
        sources = {
            item.ReferencedSOPInstanceUID
            for frame in seg.PerFrameFunctionalGroupsSequence
            for derivation in frame.DerivationImageSequence
            for item in derivation.SourceImageSequence
        }
        assert sources <= {ds.SOPInstanceUID for ds in slices}
        # The lung segment as a volume over the source slices equals the NIfTI's lung voxels.
        volume = seg.get_volume(combine_segments=False, segment_numbers=[1])
        assert int(np.asarray(volume.array).sum()) == int((labels > 0).sum()), "lung voxel count"
        checked += 1
        print(f"{folder.name}: NIfTI {img.shape} affine ok; SEG {seg.NumberOfFrames} frames ok")
    assert checked, "no series folder"


if __name__ == "__main__":
    main(*sys.argv[1:])
