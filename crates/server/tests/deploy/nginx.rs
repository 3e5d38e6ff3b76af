//! A small parser of deploy/nginx.conf and nginx's lookup rules (locations, inherited
//! directives).

/// A directive with its arguments, and the directives of its block if it has one.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) args: Vec<String>,
    pub(crate) block: Option<Vec<Node>>,
}

pub(crate) fn parse(text: &str) -> Vec<Node> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '#' => while chars.next().is_some_and(|c| c != '\n') {},
            c if c.is_whitespace() => {
                chars.next();
            }
            '{' | '}' | ';' => {
                tokens.push(c.to_string());
                chars.next();
            }
            '"' | '\'' => {
                chars.next();
                let mut word = String::new();
                for c in chars.by_ref() {
                    if c == '"' || c == '\'' {
                        break;
                    }
                    word.push(c);
                }
                tokens.push(format!("\u{0}{word}"));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | ';') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(word);
            }
        }
    }
    let mut tokens = tokens.into_iter();
    let nodes = block(&mut tokens);
    assert!(tokens.next().is_none(), "nginx.conf: unbalanced braces");
    nodes
}

fn block(tokens: &mut impl Iterator<Item = String>) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut words: Vec<String> = Vec::new();
    while let Some(token) = tokens.next() {
        match token.as_str() {
            ";" | "{" => {
                assert!(
                    !words.is_empty(),
                    "nginx.conf: `{token}` without a directive"
                );
                let name = words.remove(0);
                let args = std::mem::take(&mut words)
                    .into_iter()
                    .map(|w| w.trim_start_matches('\u{0}').to_owned())
                    .collect();
                let children = (token == "{").then(|| block(tokens));
                nodes.push(Node {
                    name,
                    args,
                    block: children,
                });
            }
            "}" => {
                assert!(
                    words.is_empty(),
                    "nginx.conf: directive without `;`: {words:?}"
                );
                return nodes;
            }
            _ => words.push(token),
        }
    }
    assert!(
        words.is_empty(),
        "nginx.conf: directive without `;`: {words:?}"
    );
    nodes
}

pub(crate) fn all<'a>(nodes: &'a [Node], name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
    nodes.iter().filter(move |n| n.name == name)
}

/// The arguments of every `name` directive at the innermost level (of `levels`, innermost
/// first) that has one: nginx's inheritance, where a level that sets a directive replaces
/// everything inherited (so one `proxy_set_header` drops the server's).
pub(crate) fn effective(levels: &[&[Node]], name: &str) -> Vec<Vec<String>> {
    levels
        .iter()
        .map(|level| all(level, name).map(|n| n.args.clone()).collect::<Vec<_>>())
        .find(|found| !found.is_empty())
        .unwrap_or_default()
}

/// The location of `server` that serves `uri` (exact, then longest prefix; `^~` as any
/// prefix since regex locations are refused).
pub(crate) fn locate<'a>(server: &'a [Node], uri: &str) -> Option<&'a Node> {
    let mut best: Option<(&Node, usize)> = None;
    for location in all(server, "location") {
        match location.args.as_slice() {
            [op, path] if op == "=" => {
                if uri == path {
                    return Some(location);
                }
            }
            [op, path] if op == "^~" => consider(&mut best, location, path, uri),
            [path] => consider(&mut best, location, path, uri),
            other => panic!("nginx.conf: location {other:?}: regex locations are not checked"),
        }
    }
    best.map(|(node, _)| node)
}

fn consider<'a>(best: &mut Option<(&'a Node, usize)>, node: &'a Node, path: &str, uri: &str) {
    if uri.starts_with(path) && best.is_none_or(|(_, len)| path.len() > len) {
        *best = Some((node, path.len()));
    }
}

/// What a request for `uri` on `server` meets: the `proxy_pass` target of its location (if
/// any), and the levels its directives are inherited from (location, server, http).
pub(crate) fn route<'a>(
    conf: &'a [Node],
    server: &'a Node,
    uri: &str,
) -> (Option<String>, Vec<&'a [Node]>) {
    let block = server.block.as_deref().unwrap_or_default();
    let location = locate(block, uri);
    let pass = location
        .and_then(|l| all(l.block.as_deref().unwrap_or_default(), "proxy_pass").next())
        .and_then(|p| p.args.first().cloned());
    let mut levels: Vec<&[Node]> = Vec::new();
    if let Some(location) = location {
        levels.push(location.block.as_deref().unwrap_or_default());
    }
    levels.push(block);
    levels.push(conf);
    (pass, levels)
}

/// The value an effective `proxy_set_header name …` gives (`Some("")`: removed).
pub(crate) fn header(levels: &[&[Node]], name: &str) -> Option<String> {
    effective(levels, "proxy_set_header")
        .into_iter()
        .find(|h| h.first().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .map(|h| h.get(1).cloned().unwrap_or_default())
}

/// `6g`, `512m`, `1k`, `100` → bytes; `0` (no limit) → `u64::MAX`.
pub(crate) fn size(text: &str) -> Option<u64> {
    let text = text.to_ascii_lowercase();
    let (number, unit) = match text.chars().last()? {
        'k' => (&text[..text.len() - 1], 1u64 << 10),
        'm' => (&text[..text.len() - 1], 1 << 20),
        'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text.as_str(), 1),
    };
    let n: u64 = number.parse().ok()?;
    Some(if n == 0 { u64::MAX } else { n * unit })
}
