//! The size limits the layout keeps (docs/development.md, "Layout"): no file in `src/` over
//! 500 lines and the handler under 250, so that a file stays one thing a reader can hold.
//! (Functions over 60 lines are clippy's: `too-many-lines-threshold` in clippy.toml.)

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 500;
const MAX_HANDLER_LINES: usize = 250;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .expect("readable")
        .lines()
        .count()
}

#[test]
fn no_file_in_src_is_over_500_lines_and_the_handler_is_under_250() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found only {files:?}");
    let long: Vec<_> = files
        .iter()
        .map(|f| {
            (
                f.strip_prefix(&src).unwrap().display().to_string(),
                lines(f),
            )
        })
        .filter(|(_, n)| *n > MAX_FILE_LINES)
        .collect();
    assert!(long.is_empty(), "over {MAX_FILE_LINES} lines: {long:?}");
    let handler = lines(&src.join("lambda/handler.rs"));
    assert!(
        handler < MAX_HANDLER_LINES,
        "lambda/handler.rs has {handler} lines"
    );
}
