//! rclone.conf section editing

use super::*;

/// One line of an rclone.conf as people and tools leave them.
fn conf_line(names: Vec<String>) -> impl Strategy<Value = String> {
    let names = prop::sample::select(names);
    prop_oneof![
        3 => names.clone().prop_map(|n| format!("[{n}]")),
        1 => names.prop_map(|n| format!("  [ {n} ]  ")),
        4 => ("[a-z_]{1,10}", "[ -~]{0,30}").prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "[a-z_]{1,10}=[^\n\r]{0,20}",
        1 => "[#;][^\n\r]{0,20}",
        1 => Just(String::new()),
        1 => "[^\n\r]{0,30}",
    ]
}

fn conf() -> impl Strategy<Value = String> {
    let names: Vec<String> = ["a", "b", "work", "my-drive", "x_1"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    (
        prop::collection::vec(conf_line(names), 0..30),
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(lines, crlf, last_newline)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = lines.join(eol);
            if last_newline && !text.is_empty() {
                text.push_str(eol);
            }
            text
        })
}

fn options() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z_]{1,12}", hostile_text()), 0..6)
}

/// The text split where sections start, as rclone reads it: a line that is `[name]` once
/// trimmed starts one. Returns (section name or `None` for what precedes the first,
/// its bytes), in file order.
fn blocks(conf: &str) -> Vec<(Option<String>, String)> {
    let mut out: Vec<(Option<String>, String)> = vec![(None, String::new())];
    for line in conf.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((Some(name.trim().to_owned()), String::new()));
        }
        out.last_mut().unwrap().1.push_str(line);
    }
    out
}

fn others(conf: &str, name: &str) -> String {
    blocks(conf)
        .into_iter()
        .filter(|(n, _)| n.as_deref() != Some(name))
        .map(|(_, text)| text)
        .collect()
}

proptest! {
    #![proptest_config(budget(1500))]

    #[test]
    fn removing_a_section_keeps_every_other_byte(
        conf in conf(),
        name in prop::sample::select(vec!["a", "work", "absent"]),
    ) {
        let (out, found) = remove_section(&conf, name);
        prop_assert_eq!(&out, &others(&conf, name));
        prop_assert_eq!(found, blocks(&conf).iter().any(|(n, _)| n.as_deref() == Some(name)));
        prop_assert!(section_options(&out, name).is_empty());
    }

    #[test]
    fn writing_a_section_never_changes_a_byte_of_another(
        conf in conf(),
        name in prop::sample::select(vec!["a", "work", "new-one"]),
        options in options(),
    ) {
        let pairs: Vec<(&str, &str)> =
            options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let Ok(out) = upsert_section(&conf, name, &pairs) else {
            // Refused: only for a value no rclone.conf line can hold.
            prop_assert!(options.iter().any(|(_, v)| v.chars().any(char::is_control)));
            return Ok(());
        };
        let kept = others(&conf, name);
        prop_assert!(out.starts_with(&kept), "another section changed:\n{conf:?}\n→\n{out:?}");
        let added = &out[kept.len()..];
        let section = added.trim_start_matches(['\r', '\n']);
        prop_assert!(section.starts_with(&format!("[{name}]\n")), "{added:?}");
        // The new section is the whole of what was added, and reads back as written.
        let after = blocks(&out);
        prop_assert_eq!(after.iter().filter(|(n, _)| n.as_deref() == Some(name)).count(), 1);
        let expected: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect();
        prop_assert_eq!(section_options(&out, name), expected);
        let others_before: Vec<_> = blocks(&conf).into_iter().filter(|(n, _)| n.as_deref() != Some(name) && n.is_some()).map(|(n, _)| n).collect();
        let others_after: Vec<_> = after.into_iter().filter(|(n, _)| n.as_deref() != Some(name) && n.is_some()).map(|(n, _)| n).collect();
        prop_assert_eq!(others_before, others_after);
    }

    #[test]
    fn reading_any_conf_never_panics(conf in prop_oneof![conf().boxed(), hostile_text().boxed()]) {
        let remotes = parse_remotes(&conf);
        for r in &remotes {
            prop_assert!(!section_options(&conf, &r.name).is_empty());
        }
    }
}
