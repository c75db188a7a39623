//! What changed between two purpose texts, word by word, for the page to show a person
//! the text they agreed to beside the new one.

/// A run of words: in both texts, only in the earlier one, or only in the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    Same(String),
    Removed(String),
    Added(String),
}

/// The changes from `before` to `after`, by words (each with the blanks that follow it),
/// as the longest common run of words leaves them.
pub(super) fn changes(before: &str, after: &str) -> Vec<Part> {
    let old = words(before);
    let new = words(after);
    // common[i][j]: the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0_u32; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if same(old[i], new[j]) {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut parts: Vec<Part> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let part = if i < old.len() && j < new.len() && same(old[i], new[j]) {
            i += 1;
            j += 1;
            Part::Same(new[j - 1].to_owned())
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            // On a tie, what was removed comes before what was added.
            i += 1;
            Part::Removed(old[i - 1].to_owned())
        } else {
            j += 1;
            Part::Added(new[j - 1].to_owned())
        };
        push(&mut parts, part);
    }
    parts
}

/// Words with the blanks after them, so the parts joined give the text back.
fn words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut in_blank = false;
    for (at, character) in text.char_indices() {
        if character.is_whitespace() {
            in_blank = true;
        } else if in_blank {
            words.push(&text[start..at]);
            start = at;
            in_blank = false;
        }
    }
    if start < text.len() {
        words.push(&text[start..]);
    }
    words
}

/// The same word, whatever blanks follow it.
fn same(a: &str, b: &str) -> bool {
    a.trim_end() == b.trim_end()
}

/// Appends `part`, joining it to the last one of its kind.
fn push(parts: &mut Vec<Part>, part: Part) {
    match (parts.last_mut(), part) {
        (Some(Part::Same(last)), Part::Same(text))
        | (Some(Part::Removed(last)), Part::Removed(text))
        | (Some(Part::Added(last)), Part::Added(text)) => last.push_str(&text),
        (_, part) => parts.push(part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_removed_and_added_are_marked_and_the_rest_kept() {
        let parts = changes(
            "We email you our news once a month.",
            "We email you our news and partner offers once a week.",
        );
        assert_eq!(
            parts,
            [
                Part::Same("We email you our news ".into()),
                Part::Added("and partner offers ".into()),
                Part::Same("once a ".into()),
                Part::Removed("month.".into()),
                Part::Added("week.".into()),
            ]
        );
        assert_eq!(
            changes("Same text.", "Same text."),
            [Part::Same("Same text.".into())]
        );
        assert_eq!(changes("", "New."), [Part::Added("New.".into())]);
    }
}
