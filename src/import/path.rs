//! Field-path step: resolves the field specs of the mapping tables (`a.b`, `list[key=value]`,
//! `list[]`, `a|b`, `@actor`, `=constant`, `{path}` templates) against a parsed event.

use serde_json::{Map, Value};

/// Longest text a joined array may produce before it is cut (callers cut further to field limits).
const MAX_JOINED: usize = 4096;

/// Splits `s` on the ASCII `sep` where it is not inside `[...]` or `{...}`. Specs are resolved for
/// every field of every event, so this allocates nothing. It scans bytes: an ASCII byte is never
/// part of a multi-byte UTF-8 character, so every cut is on a character boundary.
fn split_outside(s: &str, sep: u8) -> SplitOutside<'_> {
    SplitOutside { rest: Some(s), sep }
}

/// The parts of a spec between separators at bracket depth 0 (see [`split_outside`]).
struct SplitOutside<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for SplitOutside<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let mut depth = 0i32;
        for (i, b) in s.bytes().enumerate() {
            match b {
                b'[' | b'{' => depth += 1,
                b']' | b'}' => depth -= 1,
                b if b == self.sep && depth == 0 => {
                    self.rest = Some(&s[i + 1..]);
                    return Some(&s[..i]);
                }
                _ => {}
            }
        }
        self.rest = None;
        Some(s)
    }
}

/// Looks up `key` in `map`, falling back to an ASCII case-insensitive match (for exports that
/// lower-case keys, such as Panther's data-lake forms).
pub(crate) fn get_ci<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Resolves a plain dotted path (no alternatives). Object keys are matched exactly, then ignoring
/// ASCII case.
pub(crate) fn get<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = root;
    for seg in split_outside(path, b'.') {
        let (name, filter) = match seg.find('[') {
            Some(i) if seg.ends_with(']') => (&seg[..i], Some(&seg[i + 1..seg.len() - 1])),
            _ => (seg, None),
        };
        if !name.is_empty() {
            cur = get_ci(cur.as_object()?, name)?;
        }
        if let Some(filter) = filter {
            let items = cur.as_array()?;
            cur = if filter.is_empty() {
                items.first()?
            } else if let Ok(i) = filter.parse::<usize>() {
                items.get(i)?
            } else {
                let (k, want) = filter.split_once('=')?;
                items.iter().find(|item| {
                    item.as_object()
                        .and_then(|o| get_ci(o, k))
                        .and_then(scalar_text)
                        .is_some_and(|t| t.eq_ignore_ascii_case(want))
                })?
            };
        }
    }
    Some(cur)
}

/// The first alternative of `spec` (plain paths separated by `|`) that exists.
pub(crate) fn first<'v>(root: &'v Value, spec: &str) -> Option<&'v Value> {
    split_outside(spec, b'|').find_map(|alt| get(root, alt.trim()).filter(|v| !v.is_null()))
}

/// Text of a scalar (string, number, bool); `None` for empty strings, null and containers.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return None;
            }
            // Entra writes modifiedProperties values as JSON literals: "\"Global Administrator\"".
            if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
                if let Ok(inner) = serde_json::from_str::<String>(t) {
                    let inner = inner.trim().to_string();
                    return (!inner.is_empty()).then_some(inner);
                }
            }
            Some(t.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text of any value: scalars as themselves, arrays joined with `, `, objects through `picker` (the
/// first of those keys with a usable value; the placeholder `unknown` is not usable).
pub(crate) fn text(v: &Value, picker: &[&str]) -> Option<String> {
    match v {
        Value::Array(items) => {
            let mut out = String::new();
            for item in items {
                if let Some(t) = text(item, picker) {
                    if !out.is_empty() {
                        out.push_str(", ");
                    }
                    out.push_str(&t);
                    if out.len() > MAX_JOINED {
                        break;
                    }
                }
            }
            (!out.is_empty()).then_some(out)
        }
        Value::Object(o) => picker
            .iter()
            .find_map(|k| get_ci(o, k).and_then(scalar_text).filter(|t| !t.eq_ignore_ascii_case("unknown"))),
        _ => scalar_text(v),
    }
}

/// Resolves a field spec: alternatives separated by `|`, each one of `@actor`, `=constant`,
/// a `{path}` template, `-` (nothing) or a plain path. The first alternative with a value wins.
pub(crate) fn resolve(root: &Value, spec: &str, picker: &[&str], actor: Option<&str>) -> Option<String> {
    split_outside(spec, b'|').find_map(|alt| {
        let alt = alt.trim();
        if alt == "-" || alt.is_empty() {
            None
        } else if alt == "@actor" {
            actor.map(str::to_string)
        } else if let Some(constant) = alt.strip_prefix('=') {
            Some(constant.to_string())
        } else if alt.contains('{') {
            template(root, alt, picker)
        } else {
            get(root, alt).and_then(|v| text(v, picker))
        }
    })
}

/// Fills `{path}` placeholders; `None` if any placeholder has no value.
fn template(root: &Value, t: &str, picker: &[&str]) -> Option<String> {
    let mut out = String::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let v = get(root, &rest[open + 1..close]).and_then(|v| text(v, picker))?;
        out.push_str(&v);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// True if a spec names the value at `path` among its alternatives (used by docs tests).
#[cfg(test)]
pub(crate) fn alternatives(spec: &str) -> Vec<&str> {
    split_outside(spec, b'|').collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_filters_and_alternatives() {
        let v = json!({
            "target": [{"type": "AppUser", "id": "a"}, {"type": "User", "id": "u1", "alternateId": "unknown", "displayName": "U"}],
            "Props": {"Role": "\"Global Administrator\""},
            "list": ["x", "y"],
            "n": 5
        });
        assert_eq!(resolve(&v, "target[type=user]", &["alternateId", "id"], None).as_deref(), Some("u1"));
        assert_eq!(resolve(&v, "props.Role", &[], None).as_deref(), Some("Global Administrator"));
        assert_eq!(resolve(&v, "missing|list", &[], None).as_deref(), Some("x, y"));
        assert_eq!(resolve(&v, "missing|@actor", &[], Some("me")).as_deref(), Some("me"));
        assert_eq!(resolve(&v, "missing|=const", &[], None).as_deref(), Some("const"));
        assert_eq!(resolve(&v, "n={n}|=none", &[], None).as_deref(), Some("n=5"));
        assert_eq!(resolve(&v, "{missing} x|=none", &[], None).as_deref(), Some("none"));
        assert_eq!(resolve(&v, "target[1].displayName", &[], None).as_deref(), Some("U"));
        assert_eq!(resolve(&v, "-", &[], None), None);
        assert_eq!(alternatives("a[k=x|y]|b"), vec!["a[k=x|y]", "b"]);
        assert_eq!(alternatives("{a|b}|é|"), vec!["{a|b}", "é", ""]);
        assert_eq!(alternatives(""), vec![""]);
    }
}
