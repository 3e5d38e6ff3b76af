use super::*;

fn slice(series: &str, i: usize) -> SliceHeader {
    SliceHeader {
        entry: i,
        name: format!("{series}/IM{i:03}"),
        study_uid: "1.2".to_owned(),
        series_uid: series.to_owned(),
        modality: Some("CT".to_owned()),
        instance_number: Some(i as i64 + 1),
        position: Some([0.0, 0.0, 2.5 * i as f64]),
        orientation: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
        rows: Some(64),
        columns: Some(64),
        pixel_spacing: Some([0.7, 0.7]),
        slice_thickness: Some(1.0),
        spacing_between_slices: None,
        frames: 1,
        has_pixel_data: true,
        reference: Default::default(),
    }
}

fn series_of(n: usize) -> Vec<SliceHeader> {
    (0..n).map(|i| slice("1.2.3", i)).collect()
}

fn only(slices: Vec<SliceHeader>) -> Result<Series, Rejected> {
    let mut groups = group(slices);
    assert_eq!(groups.len(), 1);
    groups.remove(0)
}

#[test]
fn slices_are_ordered_along_the_normal_and_spacing_comes_from_positions() {
    let mut slices = series_of(24);
    slices.reverse();
    slices.swap(3, 17);
    let series = only(slices).unwrap();
    let z: Vec<f64> = series
        .slices
        .iter()
        .map(|s| s.position.unwrap()[2])
        .collect();
    assert!(z.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(series.slice_spacing, Some(2.5));
}

#[test]
fn a_feet_first_normal_reverses_the_order() {
    // Rows along x, columns along -y: the normal points along -z.
    let slices = series_of(24)
        .into_iter()
        .map(|mut s| {
            s.orientation = Some([1.0, 0.0, 0.0, 0.0, -1.0, 0.0]);
            s
        })
        .collect();
    let series = only(slices).unwrap();
    assert_eq!(series.slices[0].position.unwrap()[2], 23.0 * 2.5);
}

#[test]
fn without_positions_instance_numbers_order_and_thickness_gives_spacing() {
    let mut slices = series_of(24);
    slices.reverse();
    slices[5].position = None;
    let series = only(slices).unwrap();
    let numbers: Vec<i64> = series
        .slices
        .iter()
        .map(|s| s.instance_number.unwrap())
        .collect();
    assert_eq!(numbers, (1..=24).collect::<Vec<_>>());
    assert_eq!(series.slice_spacing, Some(1.0));
}

#[test]
fn series_are_grouped_by_study_and_series_uid() {
    let mut slices = series_of(20);
    slices.extend((0..20).map(|i| {
        let mut s = slice("1.2.3", i);
        s.study_uid = "9.9".to_owned();
        s
    }));
    let groups = group(slices);
    assert_eq!(groups.len(), 2);
    assert!(
        groups
            .iter()
            .all(|g| g.as_ref().unwrap().slices.len() == 20)
    );
}

#[test]
fn unusable_series_are_rejected_with_a_reason() {
    let reason = |slices| only(slices).unwrap_err().reason;
    assert_eq!(reason(series_of(19)), "too few slices (19 < 20)");

    let mut mr = series_of(30);
    mr.iter_mut()
        .for_each(|s| s.modality = Some("MR".to_owned()));
    assert_eq!(reason(mr), "not a CT series (Modality MR)");

    let mut mixed = series_of(30);
    mixed[4].rows = Some(128);
    assert!(reason(mixed).starts_with("inconsistent image sizes"));

    let mut empty = series_of(30);
    empty[0].has_pixel_data = false;
    assert_eq!(reason(empty), "1 of 30 files have no pixel data");

    let mut multi = series_of(30);
    multi[0].frames = 30;
    assert!(reason(multi).contains("multi-frame"));
}
