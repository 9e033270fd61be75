//! GitHub: a personal access token ([`pat`]) or the `gh` device flow ([`device`]); both end in
//! the same `github` entry of mcp-tokens.json.

pub mod device;
pub mod pat;
