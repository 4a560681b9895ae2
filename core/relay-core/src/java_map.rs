//! Okta writes some `debugData` values as a Java `Map.toString()`:
//! `{New Geo-Location=NEGATIVE, New Device=POSITIVE}` or `{reasons=Anomalous Location, New Device, level=HIGH}`.
//! No crate reads this format, and it is not JSON, hence this small parser.

/// The `key=value` pairs of a Java map string, in order. A comma-separated piece without `=`
/// continues the previous value, because values themselves contain `, `.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in inner.split(", ").filter(|piece| !piece.is_empty()) {
        match (piece.split_once('='), pairs.last_mut()) {
            (Some((key, value)), _) => pairs.push((key.trim().to_owned(), value.trim().to_owned())),
            (None, Some((_, value))) => {
                value.push_str(", ");
                value.push_str(piece);
            }
            (None, None) => {}
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
    }

    #[test]
    fn reads_behaviors_and_risk_with_commas_in_values() {
        assert_eq!(
            pairs("{New Geo-Location=NEGATIVE, New Device=POSITIVE}"),
            [
                ("New Geo-Location".into(), "NEGATIVE".into()),
                ("New Device".into(), "POSITIVE".into())
            ]
        );
        assert_eq!(
            pairs("{reasons=Anomalous Location, New Device, level=HIGH}"),
            [
                ("reasons".into(), "Anomalous Location, New Device".into()),
                ("level".into(), "HIGH".into())
            ]
        );
    }

    #[test]
    fn tolerates_empty_and_odd_input() {
        assert!(pairs("{}").is_empty());
        assert!(pairs("").is_empty());
        assert!(pairs("no pairs here").is_empty());
        assert_eq!(pairs("a=b=c"), [("a".into(), "b=c".into())]);
    }
}
