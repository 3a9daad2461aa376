//! The expressions of virtual meters: linear combinations of meters, such as
//! `incomer - compressor-1 - compressor-2` or `0.5 * (line-a + line-b)`.
//!
//! Grammar: `expr = term (("+" | "-") term)*`, `term = factor (("*" | "/") factor)*`,
//! `factor = number | meter | "(" expr ")" | ("+" | "-") factor`. A meter id may hold `-`
//! (`compressor-1`), so a subtraction needs a space before its `-` when the operand before it
//! is a meter (`a - b`, not `a-b`, which names the meter `a-b`). Only numbers multiply or
//! divide: the result must stay linear in the meters, and a constant term is refused (a meter
//! cannot have an offset in kWh).

use std::collections::BTreeMap;

/// Longest expression accepted, characters.
const MAX_LEN: usize = 2_000;
/// Deepest nesting of parentheses and signs accepted (the parser recurses).
const MAX_DEPTH: usize = 64;

/// What is wrong with an expression, naming the offending token.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(f64),
    Meter(String),
    Op(char),
}

/// A linear combination: coefficient per meter, and a constant.
#[derive(Debug, Clone, Default, PartialEq)]
struct Lin {
    terms: BTreeMap<String, f64>,
    constant: f64,
}

impl Lin {
    fn scaled(mut self, k: f64) -> Self {
        self.terms.values_mut().for_each(|c| *c *= k);
        // 0 × ∞ would be NaN: no constant stays no constant.
        if self.constant != 0.0 {
            self.constant *= k;
        }
        self
    }

    fn plus(mut self, other: Lin, sign: f64) -> Self {
        for (m, c) in other.terms {
            *self.terms.entry(m).or_insert(0.0) += sign * c;
        }
        self.constant += sign * other.constant;
        self
    }

    fn as_number(&self) -> Option<f64> {
        self.terms.is_empty().then_some(self.constant)
    }
}

/// Parses `text` into (meter, coefficient) pairs, meters in name order, zero coefficients
/// (`a - a`) dropped.
pub fn parse(text: &str) -> Result<Vec<(String, f64)>, ExprError> {
    if text.chars().count() > MAX_LEN {
        return Err(ExprError(format!("longer than {MAX_LEN} characters")));
    }
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, at: 0 };
    let lin = p.expr(0)?;
    if let Some(t) = p.tokens.get(p.at) {
        return Err(ExprError(format!("unexpected {}", show(t))));
    }
    if lin.constant != 0.0 {
        return Err(ExprError(format!(
            "a constant term ({}) is not a meter: numbers only multiply meters",
            lin.constant
        )));
    }
    let terms: Vec<(String, f64)> = lin.terms.into_iter().filter(|(_, c)| *c != 0.0).collect();
    if terms.is_empty() {
        return Err(ExprError(
            "names no meter (or its meters cancel out)".into(),
        ));
    }
    if let Some((m, c)) = terms.iter().find(|(_, c)| !c.is_finite()) {
        return Err(ExprError(format!("the coefficient of `{m}` is {c}")));
    }
    Ok(terms)
}

fn show(t: &Token) -> String {
    match t {
        Token::Num(n) => format!("number `{n}`"),
        Token::Meter(m) => format!("`{m}`"),
        Token::Op(c) => format!("`{c}`"),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, ExprError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "+-*/()".contains(c) {
            out.push(Token::Op(c));
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '_' || d == '.' || d == '-' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = &text[i..end];
            let numeric = c.is_ascii_digit() || c == '.';
            match word.parse::<f64>() {
                Ok(n) if numeric && n.is_finite() => out.push(Token::Num(n)),
                _ if crate::payload::is_identifier(word) => out.push(Token::Meter(word.into())),
                _ => {
                    return Err(ExprError(format!(
                        "`{word}` is neither a number nor a meter id"
                    )))
                }
            }
        } else {
            return Err(ExprError(format!("unexpected character `{c}`")));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_op(&self) -> Option<char> {
        match self.tokens.get(self.at) {
            Some(Token::Op(c)) => Some(*c),
            _ => None,
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Lin, ExprError> {
        let mut acc = self.term(depth)?;
        while let Some(op @ ('+' | '-')) = self.peek_op() {
            self.at += 1;
            let rhs = self.term(depth)?;
            acc = acc.plus(rhs, if op == '+' { 1.0 } else { -1.0 });
        }
        Ok(acc)
    }

    fn term(&mut self, depth: usize) -> Result<Lin, ExprError> {
        let mut acc = self.factor(depth)?;
        while let Some(op @ ('*' | '/')) = self.peek_op() {
            self.at += 1;
            let rhs = self.factor(depth)?;
            acc = match (op, acc.as_number(), rhs.as_number()) {
                ('*', Some(k), _) => rhs.scaled(k),
                ('*', None, Some(k)) => acc.scaled(k),
                ('/', _, Some(k)) if k != 0.0 => acc.scaled(1.0 / k),
                ('/', _, Some(_)) => return Err(ExprError("division by zero".into())),
                _ => {
                    return Err(ExprError(format!(
                        "`{op}` between two meters: only numbers multiply or divide meters"
                    )))
                }
            };
        }
        Ok(acc)
    }

    fn factor(&mut self, depth: usize) -> Result<Lin, ExprError> {
        if depth > MAX_DEPTH {
            return Err(ExprError(format!("nested deeper than {MAX_DEPTH}")));
        }
        let Some(t) = self.tokens.get(self.at).cloned() else {
            return Err(ExprError("ends where a meter or number is expected".into()));
        };
        self.at += 1;
        match t {
            Token::Num(n) => Ok(Lin {
                terms: BTreeMap::new(),
                constant: n,
            }),
            Token::Meter(m) => Ok(Lin {
                terms: BTreeMap::from([(m, 1.0)]),
                constant: 0.0,
            }),
            Token::Op('-') => Ok(self.factor(depth + 1)?.scaled(-1.0)),
            Token::Op('+') => self.factor(depth + 1),
            Token::Op('(') => {
                let inner = self.expr(depth + 1)?;
                match self.peek_op() {
                    Some(')') => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err(ExprError(match self.tokens.get(self.at) {
                        Some(t) => format!("expected `)` before {}", show(t)),
                        None => "a `(` is not closed".into(),
                    })),
                }
            }
            other => Err(ExprError(format!(
                "unexpected {} where a meter or number is expected",
                show(&other)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(text: &str) -> Vec<(String, f64)> {
        parse(text).unwrap_or_else(|e| panic!("{text}: {}", e.0))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().0
    }

    #[test]
    fn linear_combinations() {
        assert_eq!(
            ok("incomer - compressor-1 - compressor-2"),
            vec![
                ("compressor-1".into(), -1.0),
                ("compressor-2".into(), -1.0),
                ("incomer".into(), 1.0)
            ]
        );
        assert_eq!(ok("0.5 * (a + b) - b / 2"), vec![("a".into(), 0.5)]);
        assert_eq!(ok("-(-a)"), vec![("a".into(), 1.0)]);
        assert_eq!(ok("2*a*3"), vec![("a".into(), 6.0)]);
        assert_eq!(
            ok("a-b"),
            vec![("a-b".into(), 1.0)],
            "a hyphen inside names the meter"
        );
    }

    #[test]
    fn errors_name_the_offending_token() {
        assert!(err("a + ) b").contains("`)`"), "{}", err("a + ) b"));
        assert!(err("a * b").contains("between two meters"));
        assert!(err("a + 1").contains("constant"));
        assert!(err("a - a").contains("no meter"));
        assert!(err("(a + b").contains("not closed"));
        assert!(err("a b").contains("unexpected `b`"), "{}", err("a b"));
        assert!(err("a / 0").contains("division by zero"));
        assert!(err("a + €").contains("`€`"));
        assert!(err("a + 1.x").contains("`1.x`"));
        assert!(err("").contains("ends"));
        assert!(err(&"(".repeat(500)).contains("nested"));
        assert!(err("1e308 * 10 * a").contains("coefficient of `a`"));
    }

    proptest! {
        #[test]
        fn any_text_gives_a_result(text in "[-+*/() a-c0-9.e_]{0,60}|\\PC{0,60}") {
            let _ = parse(&text);
        }

        #[test]
        fn the_value_is_the_arithmetic_of_the_meters(
            coefs in prop::collection::vec(-1000i32..1000, 1..6),
            values in prop::collection::vec(-1e4f64..1e4, 6),
        ) {
            // Build `c0 * m0 + c1 * (m1) - …` and evaluate it through the parsed terms.
            let mut text = String::new();
            let mut expected = 0.0;
            for (i, c) in coefs.iter().enumerate() {
                let (sign, k) = if *c < 0 { ("-", -c) } else { ("+", *c) };
                text.push_str(&format!(" {sign} {k} * (m{i})"));
                expected += f64::from(*c) * values[i];
            }
            match parse(&text) {
                Ok(terms) => {
                    let got: f64 = terms.iter().map(|(m, c)| {
                        let i: usize = m[1..].parse().unwrap();
                        c * values[i]
                    }).sum();
                    prop_assert!((got - expected).abs() <= 1e-9 * (1.0 + expected.abs()), "{text}: {got} vs {expected}");
                }
                Err(e) => prop_assert!(coefs.iter().all(|c| *c == 0), "{text}: {}", e.0),
            }
        }
    }
}
