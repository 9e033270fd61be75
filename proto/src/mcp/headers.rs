//! `--header 'Name: value'`: extra request headers for one MCP server, stored as typed and
//! expanded only when a request is sent, so `${VAR}` secrets stay out of files and argv.

/// Headers Patchbay sets itself; a user's header may not replace them.
const RESERVED: [&str; 8] = [
    "authorization",
    "host",
    "content-type",
    "content-length",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// Why a `--header` or its expansion is refused; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    NoColon,
    BadName(String),
    Reserved(String),
    BadValue(String),
    UnclosedVariable(String),
    MissingVariable { header: String, variable: String },
}

impl HeaderProblem {
    pub fn message(&self) -> String {
        match self {
            HeaderProblem::NoColon => "A --header is written 'Name: value' (for example \
                --header 'X-Api-Key: ${MY_KEY}')."
                .into(),
            HeaderProblem::BadName(n) => format!(
                "“{n}” is not a header name (letters, digits and - only); write --header \
                 'Name: value'."
            ),
            HeaderProblem::Reserved(n) => format!(
                "Patchbay sets the {n} header itself; choose another header (the access token \
                 always travels in Authorization)."
            ),
            HeaderProblem::BadValue(n) => format!(
                "The value of the {n} header has a line break or control character; give a \
                 single-line value."
            ),
            HeaderProblem::UnclosedVariable(n) => format!(
                "The value of the {n} header has a ${{ without its }}; write ${{VARIABLE}}."
            ),
            HeaderProblem::MissingVariable { header, variable } => format!(
                "The {header} header uses ${{{variable}}}, which is not set in this \
                 environment. Set {variable}, then try again."
            ),
        }
    }
}

/// Splits `Name: value` and checks both halves (the value may hold `${VAR}`s).
pub fn parse_header(option: &str) -> Result<(String, String), HeaderProblem> {
    let (name, value) = option.split_once(':').ok_or(HeaderProblem::NoColon)?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Err(HeaderProblem::BadName(
            name.chars().filter(|c| !c.is_control()).take(40).collect(),
        ));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(HeaderProblem::Reserved(name.to_owned()));
    }
    let value = value.trim();
    if value.chars().any(|c| c.is_control()) {
        return Err(HeaderProblem::BadValue(name.to_owned()));
    }
    // Fail now on a malformed ${…}, not at the first request.
    expand(name, value, |_| Some(String::new()))?;
    Ok((name.to_owned(), value.to_owned()))
}

/// The value with every `${VAR}` replaced by `lookup(VAR)`; a `$` not followed by `{` stays.
pub fn expand(
    header: &str,
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, HeaderProblem> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| HeaderProblem::UnclosedVariable(header.to_owned()))?;
        let variable = &after[..end];
        let found = lookup(variable).ok_or_else(|| HeaderProblem::MissingVariable {
            header: header.to_owned(),
            variable: variable.to_owned(),
        })?;
        if found.chars().any(|c| c.is_control()) {
            return Err(HeaderProblem::BadValue(header.to_owned()));
        }
        out.push_str(&found);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_split_checked_and_expanded_late() {
        assert_eq!(
            parse_header(" X-Api-Key :  ${KEY} "),
            Ok(("X-Api-Key".into(), "${KEY}".into()))
        );
        assert_eq!(parse_header("nocolon"), Err(HeaderProblem::NoColon));
        assert!(matches!(
            parse_header("Authorization: Bearer x"),
            Err(HeaderProblem::Reserved(_))
        ));
        assert!(matches!(
            parse_header("Bad Name: x"),
            Err(HeaderProblem::BadName(_))
        ));
        assert!(matches!(
            parse_header("X: ${OPEN"),
            Err(HeaderProblem::UnclosedVariable(_))
        ));
        let env = |k: &str| (k == "KEY").then(|| "s3cret".to_owned());
        assert_eq!(
            expand("X", "Bearer ${KEY}!", env),
            Ok("Bearer s3cret!".into())
        );
        assert_eq!(
            expand("X", "$5 and ${KEY}", env),
            Ok("$5 and s3cret".into())
        );
        let missing = expand("X", "${NOPE}", env).unwrap_err();
        assert!(missing.message().contains("NOPE"), "{}", missing.message());
        assert!(!missing.message().contains("s3cret"));
    }
}
