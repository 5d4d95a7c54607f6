//! CSV cells for exports that people open in spreadsheets.

/// One cell, quoted when needed, and defused against formula injection: a cell a
/// spreadsheet would evaluate (starting with `=`, `+`, `-`, `@`, tab or CR) gets a leading
/// `'`, so provider-supplied text can never run as a formula on a colleague's machine.
pub fn csv_cell(text: &str) -> String {
    let defused = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// One CSV line (with its `\r\n`, as RFC 4180 has it).
pub fn csv_line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|cell| csv_cell(cell.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starters_are_prefixed_with_a_quote() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1+1"), "'+1+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tcmd"), "'\tcmd");
        assert_eq!(csv_cell("\rcmd"), "\"'\rcmd\"");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        assert_eq!(csv_cell("bet-123"), "bet-123");
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("a=b"), "a=b");
        assert_eq!(csv_cell("1500"), "1500");
    }

    #[test]
    fn separators_and_quotes_are_quoted() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn a_line_joins_defused_cells() {
        assert_eq!(csv_line(&["a", "=1", "b,c"]), "a,'=1,\"b,c\"\r\n");
    }
}
