//! Property tests for the readers: any mutation of a real export (truncated,
//! bytes flipped, text inserted, re-encoded) is read or refused with
//! diagnostics that point inside the file, never a panic.

mod common;

use proptest::prelude::*;
use sentinel_migrate::error::Error;
use sentinel_migrate::source::{self, ReadOptions};
use std::sync::OnceLock;

fn seeds() -> &'static Vec<(String, Vec<u8>)> {
    static S: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    S.get_or_init(|| {
        let mut out = Vec::new();
        for dir in [
            "examples/contoso",
            "tests/fixtures/scenarios/portal-template",
            "tests/fixtures/scenarios/detections-yaml/rules",
            "tests/fixtures/scenarios/template-with-parameters",
            "tests/fixtures/scenarios/bare-array-and-single",
        ] {
            let d = common::root().join(dir);
            let mut files: Vec<_> = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for f in files {
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read(&f).unwrap()));
            }
        }
        out
    })
}

const INSERTS: [&str; 12] = [
    "{", "}", "[", "]", "\"", ",", ":", "\n", "//", "\u{0}", "é", "- ",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_exports_are_read_or_refused_cleanly(
        which in 0usize..1000,
        edits in prop::collection::vec((0usize..4, 0usize..100_000, 0usize..64, 0usize..1000), 1..5),
        utf16 in any::<bool>(),
    ) {
        let (name, original) = &seeds()[which % seeds().len()];
        let mut bytes = original.clone();
        for (kind, at, len, pick) in edits {
            let at = if bytes.is_empty() { 0 } else { at % bytes.len() };
            match kind {
                0 => bytes.truncate(at),
                1 => { let end = (at + len).min(bytes.len()); bytes.drain(at..end); }
                2 => { let ins = INSERTS[pick % INSERTS.len()].as_bytes(); bytes.splice(at..at, ins.iter().copied()); }
                _ => if at < bytes.len() { bytes[at] ^= (pick as u8) | 1 },
            }
        }
        if utf16 {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            bytes = [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        match source::read(std::slice::from_ref(&path), &ReadOptions::default()) {
            Ok(_) => {}
            Err(Error::Input(diagnostics)) => {
                prop_assert!(!diagnostics.is_empty());
                for d in diagnostics {
                    prop_assert!(d.path.ends_with(name.as_str()), "{}", d);
                    if let Some(line) = d.line {
                        let lines = String::from_utf8_lossy(&bytes).lines().count().max(1);
                        prop_assert!(line >= 1 && line <= lines + 1, "line {} of {}: {}", line, lines, d);
                    }
                    prop_assert!(!d.message.is_empty());
                }
            }
            Err(other) => prop_assert!(false, "unexpected error kind: {}", other),
        }
    }
}
