//! The interactive SQL shell.

use datafusion::execution::context::SessionContext;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::output::Format;
use crate::run::run_script;

pub async fn interactive(ctx: &SessionContext, format: Format) -> Result<(), String> {
    let mut editor = DefaultEditor::new().map_err(|e| format!("cannot start the shell: {e}"))?;
    println!("Almanac SQL shell. End statements with ';'. \\q quits; SHOW TABLES and `almanac functions` help.");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "almanac> "
        } else {
            "     ... "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && matches!(trimmed, "\\q" | "quit" | "exit") {
                    return Ok(());
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if trimmed.ends_with(';') {
                    let _ = editor.add_history_entry(buffer.trim());
                    if let Err(e) = run_script(ctx, &buffer, format, None).await {
                        eprintln!("error: {e}");
                    }
                    buffer.clear();
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(format!("reading input: {e}")),
        }
    }
}
