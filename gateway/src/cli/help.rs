//! `--help` in the reader's language. With `--lang zh-TW` (or `KILOWATCH_LANG=zh-TW`) each
//! command's summary, each option's help and clap's own headings come from the catalogue
//! (`help-cmd-…`, `help-arg-…`, `help-ui-…`); a command's long description keeps its English
//! (and its examples) under the Chinese. English is clap's text as written in the code.
//!
//! The language is known before the arguments are parsed: `--lang` is looked for among them
//! (the site file's `[site] language` would need the file read first, so it does not count).

use std::ffi::OsString;

use clap::Command;
use kilowatch_gateway::i18n::{self, Language, LANG_VAR};

/// The language `--lang X`, `--lang=X` or `KILOWATCH_LANG` asks for (an unknown one is
/// English here; parsing refuses it afterwards).
pub fn asked(args: &[OsString]) -> Language {
    let mut it = args.iter().filter_map(|a| a.to_str());
    let mut tag = None;
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--lang" {
            tag = it.next().map(str::to_owned);
        } else if let Some(v) = a.strip_prefix("--lang=") {
            tag = Some(v.to_owned());
        }
    }
    let tag = tag.or_else(|| std::env::var(LANG_VAR).ok());
    tag.and_then(|t| t.parse().ok()).unwrap_or_default()
}

/// The message `key` in `lang`, when the catalogue has it.
fn message(lang: Language, key: &str) -> Option<String> {
    let text = i18n::t(lang, key);
    (text != key).then_some(text)
}

/// The command line's help in `lang` (unchanged in English).
pub fn localize(mut cmd: Command, lang: Language) -> Command {
    if lang == Language::English {
        return cmd;
    }
    // Built first so that clap's own `--help`, `--version` and `help` exist to be translated.
    cmd.build();
    walk(cmd, lang, "")
}

/// A command's catalogue path: `root`, `mv`, `baseline-save`; clap's `help` commands, at any
/// depth, are all `help`.
fn path_of(cmd: &Command, parent: &str) -> String {
    if parent.is_empty() {
        "root".to_owned()
    } else if parent == "root" || cmd.get_name() == "help" {
        cmd.get_name().to_owned()
    } else {
        format!("{parent}-{}", cmd.get_name())
    }
}

fn walk(mut cmd: Command, lang: Language, parent: &str) -> Command {
    let path = path_of(&cmd, parent);
    if let Some(about) = message(lang, &format!("help-cmd-{path}")) {
        // The long description (its examples above all) stays readable in English beneath.
        let english = cmd
            .get_long_about()
            .or(cmd.get_about())
            .map(|s| s.to_string());
        cmd = cmd.about(about.clone());
        if let Some(en) = english {
            cmd = cmd.long_about(format!("{about}\n\n{en}"));
        }
    }
    let t = |k: &str| i18n::t(lang, k);
    cmd = cmd
        .help_template(format!(
            "{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
            t("help-ui-usage")
        ))
        .subcommand_help_heading(t("help-ui-commands"));
    let ids: Vec<(String, bool, Option<String>)> = cmd
        .get_arguments()
        .map(|a| {
            (
                a.get_id().to_string(),
                a.is_positional(),
                a.get_long().map(str::to_owned),
            )
        })
        .collect();
    for (id, positional, long) in ids {
        let heading = t(if positional {
            "help-ui-arguments"
        } else {
            "help-ui-options"
        });
        let help = long.and_then(|l| message(lang, &format!("help-arg-{l}")));
        cmd = cmd.mut_arg(id, |a| {
            let a = a.help_heading(heading);
            match help {
                Some(h) => {
                    let en = a.get_long_help().or(a.get_help()).map(|s| s.to_string());
                    let long = match en {
                        Some(en) => format!("{h}\n{en}"),
                        None => h.clone(),
                    };
                    a.help(h).long_help(long)
                }
                None => a,
            }
        });
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        let p = path.clone();
        cmd = cmd.mut_subcommand(name, |s| walk(s, lang, &p));
    }
    cmd
}

/// Every command's key path, for the test that each has its Chinese.
#[cfg(test)]
fn paths(cmd: &Command, parent: &str, out: &mut Vec<String>) {
    let path = path_of(cmd, parent);
    // clap's generated `help` subcommand mirrors every command beneath it: those are not
    // commands of their own.
    for s in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        paths(s, &path, out);
    }
    out.push(path);
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn cmd() -> Command {
        let mut c = super::super::Cli::command();
        c.build();
        c
    }

    #[test]
    fn every_command_and_option_has_its_chinese_help() {
        let zh = Language::TraditionalChinese;
        let mut all = Vec::new();
        paths(&cmd(), "", &mut all);
        assert!(all.len() > 15, "{all:?}");
        let missing: Vec<_> = all
            .iter()
            .filter(|p| message(zh, &format!("help-cmd-{p}")).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "commands without help-cmd-…: {missing:?}"
        );
        let mut longs = std::collections::BTreeSet::new();
        fn collect(c: &Command, out: &mut std::collections::BTreeSet<String>) {
            for a in c.get_arguments() {
                if let Some(l) = a.get_long() {
                    out.insert(l.to_owned());
                }
            }
            for s in c.get_subcommands() {
                collect(s, out);
            }
        }
        collect(&cmd(), &mut longs);
        let missing: Vec<_> = longs
            .iter()
            .filter(|l| message(zh, &format!("help-arg-{l}")).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "options without help-arg-…: {missing:?}"
        );
    }

    #[test]
    fn help_speaks_chinese_when_asked_and_english_otherwise() {
        let zh = localize(super::super::Cli::command(), Language::TraditionalChinese);
        let text = zh.clone().render_long_help().to_string();
        assert!(text.contains("用法"), "{text}");
        assert!(text.contains("命令"), "{text}");
        assert!(
            text.contains(&i18n::t(Language::TraditionalChinese, "help-cmd-mv")),
            "{text}"
        );
        let mut mv = zh.find_subcommand("mv").unwrap().clone();
        let text = mv.render_long_help().to_string();
        // The Chinese, and the English examples kept beneath.
        assert!(
            text.contains("能源基線") && text.contains("--baseline 2026-06-10"),
            "{text}"
        );
        let en = localize(super::super::Cli::command(), Language::English)
            .render_help()
            .to_string();
        assert!(en.contains("Usage:") && !en.contains("用法"), "{en}");
    }

    #[test]
    fn the_language_is_read_before_parsing() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let zh = Language::TraditionalChinese;
        assert_eq!(asked(&args(&["kw", "--lang", "zh-TW", "--help"])), zh);
        assert_eq!(asked(&args(&["kw", "mv", "--lang=zh-TW"])), zh);
        assert_eq!(
            asked(&args(&["kw", "--lang", "en", "--help"])),
            Language::English
        );
    }
}
