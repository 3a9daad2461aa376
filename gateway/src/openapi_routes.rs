//! Test support: a checked-in OpenAPI document describes exactly the `/api/` routes a router's
//! source file serves (the gateway's http.rs, the hub's server.rs).

/// Panics unless the paths of `openapi` (the document's JSON) are the `/api/` paths of the
/// `.route("…")` calls in `source` before its `mod tests`.
pub fn assert_documented(openapi: &str, source: &str) {
    let doc: serde_json::Value = serde_json::from_str(openapi).expect("valid JSON");
    let mut documented: Vec<&str> = doc["paths"]
        .as_object()
        .expect("an OpenAPI document has paths")
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    let code = source.split("mod tests").next().unwrap_or(source);
    // A long route is wrapped by rustfmt: its path starts the next line.
    let mut served: Vec<&str> = code
        .match_indices(".route(")
        .filter_map(|(i, _)| code[i + 7..].trim_start().strip_prefix('"'))
        .filter(|rest| rest.starts_with("/api/"))
        .filter_map(|rest| rest.find('"').map(|end| &rest[..end]))
        .collect();
    served.sort_unstable();
    assert_eq!(documented, served);
}
