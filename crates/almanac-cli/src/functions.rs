//! `almanac functions`: the reference of every Almanac SQL function.

use almanac_datafusion::all_functions;

pub fn print(name: Option<&str>) -> Result<(), String> {
    let docs: Vec<_> = all_functions()
        .into_iter()
        .filter(|d| name.is_none_or(|n| d.name.eq_ignore_ascii_case(n)))
        .collect();
    if docs.is_empty() {
        let names: Vec<_> = all_functions().iter().map(|d| d.name).collect();
        return Err(format!(
            "no function '{}' (functions: {})",
            name.unwrap_or(""),
            names.join(", ")
        ));
    }
    for doc in docs {
        println!(
            "{} ({} function)\n  {}\n\n  {}\n\n  Example:\n    {}\n",
            doc.name,
            doc.kind,
            doc.syntax,
            wrap(doc.description, 76, "  "),
            doc.example
        );
    }
    Ok(())
}

fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().map_or(0, |l| l.len());
        if line > 0 && line + 1 + word.len() > width {
            lines.push(String::new());
        }
        if let Some(l) = lines.last_mut() {
            if !l.is_empty() {
                l.push(' ');
            }
            l.push_str(word);
        }
    }
    lines.join(&format!("\n{indent}"))
}
