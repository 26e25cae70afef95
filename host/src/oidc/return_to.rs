//! Where the browser goes after sign-in: only paths of this site.

/// Only paths of this site: never redirect the browser elsewhere after
/// sign-in. The path is resolved the way a browser resolves it (WHATWG URL
/// parsing, which strips tabs and newlines and reads `\` as `/`) against a
/// fixed origin, and kept only if it stays on that origin; what is returned
/// is the resolved path, so the browser is sent exactly where was checked.
/// Control characters are refused before parsing.
pub(super) fn safe_return(return_to: &str) -> String {
    const FALLBACK: &str = "/v1/me";
    if !return_to.starts_with('/') || return_to.chars().any(char::is_control) {
        return FALLBACK.into();
    }
    let base = url::Url::parse("https://partnergate.invalid/").expect("fixed base parses");
    match base.join(return_to) {
        Ok(resolved) if resolved.origin() == base.origin() => {
            let mut path = resolved.path().to_string();
            if let Some(query) = resolved.query() {
                path.push('?');
                path.push_str(query);
            }
            if let Some(fragment) = resolved.fragment() {
                path.push('#');
                path.push_str(fragment);
            }
            // A resolved path never starts with `//`; check anyway.
            if path.starts_with("//") {
                FALLBACK.into()
            } else {
                path
            }
        }
        _ => FALLBACK.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(safe_return("/shop"), "/shop");
        assert_eq!(safe_return("/shop/cart?x=1#top"), "/shop/cart?x=1#top");
        // Resolved, so dot segments and encoded characters stay on the site.
        assert_eq!(safe_return("/a/../b"), "/b");
        assert_eq!(safe_return("/%2F/evil.test"), "/%2F/evil.test");
        assert_eq!(safe_return("/%09/evil.test"), "/%09/evil.test");
        assert_eq!(safe_return("/%5Cevil.test"), "/%5Cevil.test");
        for bad in [
            "https://evil.test",
            "//evil.test",
            "/\\evil.test",
            "\\\\evil.test",
            "\\/evil.test",
            "javascript:x",
            "",
            "shop",
            " //evil.test",
            // Browsers strip tabs and newlines anywhere in a URL: these
            // would become `//evil.test` (regression: `/<TAB>/evil.example`
            // was sent as the Location after the callback).
            "/\t/evil.test",
            "/\n/evil.test",
            "/\r\n/evil.test",
            "\t//evil.test",
            "/\t\\evil.test",
            "/\u{0}/evil.test",
            "/\u{7f}/evil.test",
        ] {
            assert_eq!(safe_return(bad), "/v1/me", "{bad:?}");
        }
    }
}
