//! Contract codes ("annuity", "ACT/360", currencies) are matched ignoring
//! case and surrounding spaces. A lake's codes are almost always written the
//! canonical way already: these give them back as they are, and allocate only
//! for the others (a million-row book parses five codes per row).

use std::borrow::Cow;

/// `code` trimmed and in lower case.
pub fn lower(code: &str) -> Cow<'_, str> {
    let trimmed = code.trim();
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// `code` trimmed and in upper case.
pub fn upper(code: &str) -> Cow<'_, str> {
    let trimmed = code.trim();
    if trimmed.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(trimmed.to_ascii_uppercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_codes_are_borrowed_others_normalised() {
        assert!(matches!(lower("annuity"), Cow::Borrowed("annuity")));
        assert!(matches!(lower(" annuity "), Cow::Borrowed("annuity")));
        assert_eq!(lower(" Annuity"), "annuity");
        assert!(matches!(lower(" Annuity"), Cow::Owned(_)));
        assert!(matches!(upper("ACT/360"), Cow::Borrowed("ACT/360")));
        assert_eq!(upper(" act/365f "), "ACT/365F");
        assert_eq!(upper("eur"), "EUR");
    }
}
