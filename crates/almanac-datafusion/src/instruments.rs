//! Instrument rows of one Arrow batch, validated against the data contract and
//! against the market (each currency needs a discount curve, each floater its
//! index curve on the as-of date).

use std::cell::RefCell;

use almanac_core::{
    Amortization, BusinessDayRule, DayCount, Error, Instrument, KnownCodes, RateType,
    RawInstrument, Side,
};
use datafusion::arrow::array::{Array, RecordBatch, StringViewArray};
use datafusion::error::Result;

use crate::market::Market;
use crate::tables::{opt, Columns, INSTRUMENT_COLUMNS};

/// Positions in `INSTRUMENT_COLUMNS`.
mod at {
    pub const ID: usize = 0;
    pub const SIDE: usize = 2;
    pub const CURRENCY: usize = 3;
    pub const BALANCE: usize = 4;
    pub const START: usize = 5;
    pub const MATURITY: usize = 6;
    pub const RATE_TYPE: usize = 7;
    pub const RATE: usize = 8;
    pub const INDEX_CURVE: usize = 9;
    pub const SPREAD: usize = 10;
    pub const RESET_MONTHS: usize = 11;
    pub const FLOOR: usize = 12;
    pub const CAP: usize = 13;
    pub const PAYMENT_MONTHS: usize = 14;
    pub const AMORTIZATION: usize = 15;
    pub const DAY_COUNT: usize = 16;
    pub const BUSINESS_DAY: usize = 17;
    pub const PREPAYMENT: usize = 18;
    pub const BEHAVIORAL_MONTHS: usize = 19;
}

pub(crate) struct InstrumentBatch {
    cols: Columns,
    memos: RefCell<CodeMemos>,
}

/// Each code column's codes, parsed once per distinct text in the batch (a
/// book has a handful per column, and a million rows).
#[derive(Default)]
struct CodeMemos {
    side: CodeMemo<Side>,
    rate_type: CodeMemo<RateType>,
    amortization: CodeMemo<Amortization>,
    day_count: CodeMemo<DayCount>,
    business_day: CodeMemo<BusinessDayRule>,
    /// A currency's discount curve in the market.
    discount_curve: CodeMemo<usize>,
}

/// Texts of one column with what they parsed to.
struct CodeMemo<T> {
    /// (The text's view if the text is held in it whole; the text; its value.)
    known: Vec<(Option<u128>, Box<str>, T)>,
}

impl<T> Default for CodeMemo<T> {
    fn default() -> Self {
        CodeMemo { known: Vec::new() }
    }
}

/// The longest text a string view holds whole: its 16 bytes are then the
/// length and the text, zero-padded, so equal views are equal texts.
const INLINE_LEN: u32 = 12;

/// Distinct texts remembered per column; past these (free text in a code
/// column), rows are parsed one by one.
const MEMO_TEXTS: usize = 32;

impl<T: Copy> CodeMemo<T> {
    /// What `parse` gives for the text at `row`, parsing it only if it was
    /// not seen before; `None` for a NULL or a text `parse` rejects (the
    /// row's validation then explains it).
    fn parsed(
        &mut self,
        array: Option<&StringViewArray>,
        row: usize,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let array = array.filter(|a| a.is_valid(row))?;
        let view = array.views()[row];
        let whole = view as u32 <= INLINE_LEN;
        let seen = if whole {
            self.known.iter().find(|known| known.0 == Some(view))
        } else {
            let text = array.value(row);
            self.known
                .iter()
                .find(|known| known.0.is_none() && *known.1 == *text)
        };
        if let Some(&(_, _, value)) = seen {
            return Some(value);
        }
        let text = array.value(row);
        let value = parse(text)?;
        if self.known.len() < MEMO_TEXTS {
            self.known.push((whole.then_some(view), text.into(), value));
        }
        Some(value)
    }
}

/// A validated row: the instrument and where its curves sit in the market
/// (its instrument_id stays in the batch: [`InstrumentBatch::id`]).
pub(crate) struct ValidRow {
    pub instrument: Instrument,
    pub index_curve: Option<usize>,
    /// The currency's discount curve.
    pub discount_curve: usize,
}

impl InstrumentBatch {
    pub fn new(batch: &RecordBatch) -> Result<InstrumentBatch> {
        Ok(InstrumentBatch {
            cols: Columns::extract(batch, &INSTRUMENT_COLUMNS, "instrument")?,
            memos: RefCell::default(),
        })
    }

    /// The batch's rows in an order that keeps instruments paid on the same
    /// schedule grid together: by maturity's day of the month, month
    /// modulo the payment step and month of the year, then by maturity; floaters
    /// apart from the rest (their sums are kept per scenario). Summed in this
    /// order, consecutive instruments add to the same sums while those are in
    /// the processor's cache, instead of to a grid picked at random from
    /// hundreds. Sets `order` to the row numbers.
    pub fn locality_order(&self, rows: usize, order: &mut Vec<u32>) {
        let mut keyed: Vec<(u64, u32)> = (0..rows)
            .map(|row| {
                let floating = self.index_curve_given(row);
                let step = self.i32(at::PAYMENT_MONTHS, row).unwrap_or(0).clamp(1, 12) as u32;
                let maturity = opt(self.cols.date(at::MATURITY), row, |a, r| a.value(r));
                let paid = match maturity {
                    Some(days) => {
                        let (y, m, d) = almanac_core::Date(days).ymd();
                        let month = (i64::from(y) * 12 + i64::from(m) - 1).rem_euclid(12) as u64;
                        let phase = month % u64::from(step);
                        // (A Date32's days fit the low 32 bits; the order is all that matters.)
                        u64::from(d) << 45 | phase << 41 | month << 37 | u64::from(days as u32)
                    }
                    None => 0,
                };
                (u64::from(floating) << 63 | paid, row as u32)
            })
            .collect();
        keyed.sort_unstable();
        order.clear();
        order.extend(keyed.iter().map(|&(_, row)| row));
    }

    /// Whether the row names an index curve (a floater, if it is valid).
    fn index_curve_given(&self, row: usize) -> bool {
        self.cols
            .text(at::INDEX_CURVE)
            .is_some_and(|a| a.is_valid(row))
    }

    fn text(&self, i: usize, row: usize) -> Option<&str> {
        opt(self.cols.text(i), row, |a, r| a.value(r))
    }

    fn f64(&self, i: usize, row: usize) -> Option<f64> {
        opt(self.cols.f64(i), row, |a, r| a.value(r))
    }

    fn i32(&self, i: usize, row: usize) -> Option<i32> {
        opt(self.cols.i32(i), row, |a, r| a.value(r))
    }

    pub fn raw(&self, row: usize) -> RawInstrument<'_> {
        let date = |i: usize| {
            opt(self.cols.date(i), row, |a, r| {
                almanac_core::Date(a.value(r))
            })
        };
        RawInstrument {
            instrument_id: self.id(row),
            side: self.text(at::SIDE, row),
            balance: self.f64(at::BALANCE, row),
            start_date: date(at::START),
            maturity_date: date(at::MATURITY),
            rate_type: self.text(at::RATE_TYPE, row),
            rate: self.f64(at::RATE, row),
            index_curve: self.text(at::INDEX_CURVE, row),
            spread: self.f64(at::SPREAD, row),
            reset_months: self.i32(at::RESET_MONTHS, row),
            rate_floor: self.f64(at::FLOOR, row),
            rate_cap: self.f64(at::CAP, row),
            payment_months: self.i32(at::PAYMENT_MONTHS, row),
            amortization: self.text(at::AMORTIZATION, row),
            day_count: self.text(at::DAY_COUNT, row),
            business_day: self.text(at::BUSINESS_DAY, row),
            prepayment_rate: self.f64(at::PREPAYMENT, row),
            behavioral_months: self.i32(at::BEHAVIORAL_MONTHS, row),
        }
    }

    /// The instrument_id of row `row` ("" if NULL; validation rejects it).
    pub fn id(&self, row: usize) -> &str {
        self.text(at::ID, row).unwrap_or("")
    }

    /// Validates every row, in row order, into `out` (cleared first): the
    /// columns are read front to back, once, for a caller that then visits the
    /// rows out of order ([`Self::locality_order`]) and would otherwise miss
    /// the cache on each of a row's twenty columns.
    pub fn validate_all(
        &self,
        rows: usize,
        market: &Market,
        out: &mut Vec<Result<ValidRow, Error>>,
    ) {
        out.clear();
        out.extend((0..rows).map(|row| self.validate(row, market)));
    }

    /// Validates row `row` against the contract and the market.
    pub fn validate(&self, row: usize, market: &Market) -> Result<ValidRow, Error> {
        let raw = self.raw(row);
        let memos = &mut *self.memos.borrow_mut();
        let text = |i: usize| self.cols.text(i);
        let known = KnownCodes {
            side: memos
                .side
                .parsed(text(at::SIDE), row, |t| Side::parse(t).ok()),
            rate_type: (memos.rate_type)
                .parsed(text(at::RATE_TYPE), row, |t| RateType::parse(t).ok()),
            amortization: (memos.amortization)
                .parsed(text(at::AMORTIZATION), row, |t| Amortization::parse(t).ok()),
            day_count: (memos.day_count)
                .parsed(text(at::DAY_COUNT), row, |t| DayCount::parse(t).ok()),
            business_day: (memos.business_day).parsed(text(at::BUSINESS_DAY), row, |t| {
                BusinessDayRule::parse(t).ok()
            }),
        };
        let instrument = raw.validate_with(known)?;
        let fail = |column: &'static str, value: &str, reason: String| Error::Instrument {
            instrument_id: raw.instrument_id.to_string(),
            column,
            value: format!("'{value}'"),
            reason,
        };
        let curve_of = |currency: &str| {
            let currency = almanac_core::code::upper(currency);
            market.discount_curve.get(currency.as_ref()).copied()
        };
        let currency = self.text(at::CURRENCY, row).unwrap_or("");
        let Some(discount_curve) = (memos.discount_curve).parsed(text(at::CURRENCY), row, curve_of)
        else {
            let known: Vec<&str> = market.discount_curve.keys().map(String::as_str).collect();
            return Err(fail(
                "currency",
                currency,
                format!(
                    "no curve for this currency on the as-of date (curves exist for: {})",
                    known.join(", ")
                ),
            ));
        };
        let index_curve = match &instrument.floating {
            None => None,
            Some(terms) => Some(*market.curve_index.get(&terms.index_curve).ok_or_else(|| {
                fail(
                    "index_curve",
                    &terms.index_curve,
                    "no curve with this curve_id on the as-of date".into(),
                )
            })?),
        };
        Ok(ValidRow {
            instrument,
            index_curve,
            discount_curve,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the order, case, padding or length of the texts, the memo
    /// gives each row what parsing its own text gives.
    #[test]
    fn memoised_codes_are_each_rows_own_parse() {
        let texts = [
            Some("following"),
            Some("modified_following"),
            Some("FOLLOWING"),
            // As long as the one before it, with the same first four bytes.
            Some("modified_followinx"),
            None,
            Some(" following "),
            Some("modified_following"),
            Some("modifiedfollowing"),
            Some("bogus"),
            Some("following"),
            Some("bogus"),
            Some("modified_followinx"),
            Some(""),
        ];
        let array = StringViewArray::from(texts.to_vec());
        let mut memo = CodeMemo::default();
        // Twice over: the second pass reads every text from the memo.
        for _ in 0..2 {
            for (row, text) in texts.iter().enumerate() {
                let got = memo.parsed(Some(&array), row, |t| BusinessDayRule::parse(t).ok());
                let want = text.and_then(|t| BusinessDayRule::parse(t).ok());
                assert_eq!(got, want, "row {row}: {text:?}");
            }
        }
        // One entry per distinct text parsed (NULL and rejected ones are not kept).
        assert_eq!(memo.known.len(), 6);
        assert_eq!(
            memo.parsed(None, 0, |_| Some(BusinessDayRule::Following)),
            None
        );
    }
}
