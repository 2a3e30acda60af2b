//! `cmek-arm completions SHELL` and `cmek-arm man`: generated from the clap
//! definitions (clap_complete, clap_mangen), so they cannot drift from the flags.

use clap::Command;

/// The shells `completions` writes for (clap_complete's list).
pub use clap_complete::Shell;

/// Writes the completion script of `cmd` for `shell`.
pub fn completions(shell: Shell, mut cmd: Command, out: &mut dyn std::io::Write) {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// What every roff fragment clap_mangen writes starts with (the `\*(Aq` string
/// definition); it belongs once, at the top of the page.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// One man page for the whole tool: clap_mangen's page for the top-level
/// command, then one section per subcommand with its synopsis, description and
/// options (clap_mangen's own sections, each `.SH` demoted to `.SS`), so
/// `man cmek-arm` shows every subcommand's flags.
pub fn man_page(cmd: Command) -> std::io::Result<String> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    let mut page = String::from_utf8_lossy(&page).into_owned();
    let roff_name = |s: &str| s.replace('-', "\\-");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap_mangen lists subcommands as pages of their own (`cmek-arm-render(1)`);
        // here they are sections of this page.
        page = page.replace(
            &format!(
                "{}\\-{}(1)",
                roff_name(cmd.get_name()),
                roff_name(sub.get_name())
            ),
            &format!(
                "\\fB{} {}\\fR",
                roff_name(cmd.get_name()),
                roff_name(sub.get_name())
            ),
        );
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part)?;
        man.render_description_section(&mut part)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut part)?;
        }
        let part = String::from_utf8_lossy(&part).replace(PREAMBLE, "");
        page.push_str(&format!(
            ".SH \"{} {}\"\n",
            cmd.get_name().to_uppercase(),
            sub.get_name().to_uppercase()
        ));
        for line in part.lines() {
            match line.strip_prefix(".SH ") {
                Some(heading) => page.push_str(&format!(".SS {heading}\n")),
                None => {
                    page.push_str(line);
                    page.push('\n');
                }
            }
        }
    }
    // roff input is read as Latin-1 unless told otherwise: any other character
    // goes in as a named Unicode escape, which every groff/mandoc renders.
    Ok(page
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("\\[u{:04X}]", u32::from(c))
            }
        })
        .collect())
}
