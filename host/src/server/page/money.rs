//! Amounts in the store's currency, written as the page's language writes
//! numbers: the spending limits the directory holds in minor units (cents)
//! shown as `$500.00` or `500,00 €`.

use std::str::FromStr;

use super::i18n::Messages;
use crate::error::Error;

/// The store's currency: its ISO 4217 code and how many minor-unit digits
/// it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Currency {
    code: String,
    digits: u32,
}

/// Minor-unit digits of the ISO 4217 currencies that do not have two.
const NOT_TWO_DIGITS: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

impl Default for Currency {
    fn default() -> Self {
        Self {
            code: "USD".into(),
            digits: 2,
        }
    }
}

impl FromStr for Currency {
    type Err = Error;

    /// An ISO 4217 code (`EUR`, `JPY`), its digits known; or `CODE:digits`
    /// for any other.
    fn from_str(text: &str) -> Result<Self, Error> {
        let refused = || {
            Error::Config(format!(
                "store currency `{text}`: use an ISO 4217 code such as `USD`, `EUR` or `JPY`, or `CODE:digits` (`XTS:2`)"
            ))
        };
        let (code, digits) = match text.trim().split_once(':') {
            Some((code, digits)) => (code, Some(digits.parse::<u32>().map_err(|_| refused())?)),
            None => (text.trim(), None),
        };
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(refused());
        }
        let digits = digits.unwrap_or_else(|| {
            NOT_TWO_DIGITS
                .iter()
                .find(|(c, _)| *c == code)
                .map_or(2, |(_, d)| *d)
        });
        if digits > 4 {
            return Err(refused());
        }
        Ok(Self {
            code: code.into(),
            digits,
        })
    }
}

impl Currency {
    /// The ISO 4217 code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// `minor` units written in the language of `m`: its digit grouping and
    /// decimal mark (`number-group`, `number-decimal`) and its symbol for
    /// the currency (`currency-<CODE>`), placed as its `amount` message
    /// places it; a currency without a symbol there is written by its code
    /// (`amount-code`).
    pub fn format(&self, m: &Messages<'_>, minor: u64) -> String {
        let unit = 10u64.pow(self.digits);
        let whole = (minor / unit).to_string();
        let group = m.t("number-group");
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3 * group.len());
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push_str(&group);
            }
            grouped.push(digit);
        }
        if self.digits > 0 {
            grouped.push_str(&m.t("number-decimal"));
            grouped.push_str(&format!(
                "{:0width$}",
                minor % unit,
                width = self.digits as usize
            ));
        }
        match m.optional(&format!("currency-{}", self.code)) {
            Some(symbol) => m.t2("amount", ("number", &grouped), ("currency", &symbol)),
            None => m.t2(
                "amount-code",
                ("number", &grouped),
                ("currency", &self.code),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::page::i18n::Catalog;

    #[test]
    fn amounts_follow_the_currency_and_the_language() {
        let catalog = Catalog::english();
        let m = catalog.for_request(None);
        let usd: Currency = "USD".parse().unwrap();
        assert_eq!(usd.format(&m, 5_000_000), "$50,000.00");
        assert_eq!(usd.format(&m, 5), "$0.05");
        let jpy: Currency = "JPY".parse().unwrap();
        assert_eq!(jpy.format(&m, 1_234_567), "JPY 1,234,567");
        let eur: Currency = "EUR".parse().unwrap();
        assert_eq!(eur.format(&m, 123_456), "€1,234.56");
        let kwd: Currency = "KWD".parse().unwrap();
        assert_eq!(kwd.format(&m, 1_500), "KWD 1.500");
        assert_eq!(
            "XTS:1".parse::<Currency>().unwrap().format(&m, 15),
            "XTS 1.5"
        );
        for bad in ["usd", "EURO", "", "EUR:x", "EUR:9"] {
            assert!(bad.parse::<Currency>().is_err(), "{bad}");
        }
    }

    #[test]
    fn another_language_writes_its_own_marks_and_places() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(
            dir.path().join("de").join("page.ftl"),
            "number-group = .\nnumber-decimal = ,\namount = { $number } { $currency }\namount-code = { $number } { $currency }\ncurrency-EUR = €\n",
        )
        .unwrap();
        let catalog = Catalog::load(Some(dir.path())).unwrap();
        let m = catalog.for_request(Some("de-DE"));
        let eur: Currency = "EUR".parse().unwrap();
        assert_eq!(eur.format(&m, 123_456_789), "1.234.567,89 €");
        let jpy: Currency = "JPY".parse().unwrap();
        assert_eq!(jpy.format(&m, 1_234_567), "1.234.567 JPY");
    }
}
