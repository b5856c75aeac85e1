//! The demo bank: a deterministic generator of a realistic mid-size bank's
//! balance sheet, curves and capital (`almanac generate`). The same seed and
//! size give the same Parquet files, bit for bit; a larger book starts with
//! the same instruments as a smaller one.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use almanac_core::Date;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows generated and written per batch, so 10M instruments need little memory.
const CHUNK: usize = 65_536;
/// Instruments per Parquet row group (the demo bank's 10,000 fit in one).
const ROW_GROUP_ROWS: usize = 16_384;

/// The analysis date of the demo bank.
pub fn demo_as_of() -> Date {
    Date::from_ymd(2025, 12, 31).unwrap_or(Date(20_453))
}

/// What `generate` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedBank {
    pub instruments: usize,
    pub total_assets: f64,
    pub total_liabilities: f64,
    pub tier1_capital: f64,
}

/// Writes `instruments.parquet`, `curves.parquet`, `capital.parquet` and
/// `fx_rates.parquet` into `out`. `progress` is called after each chunk with
/// the number of instruments written so far.
pub fn generate(
    n: usize,
    seed: u64,
    out: &Path,
    mut progress: impl FnMut(usize),
) -> Result<GeneratedBank> {
    std::fs::create_dir_all(out).map_err(|e| io_err(out, e))?;
    let as_of = demo_as_of();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let schema = instrument_schema();
    let path = out.join("instruments.parquet");
    let file = File::create(&path).map_err(|e| io_err(&path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        // Several row groups, so a book in one file is still scanned (and its
        // flows generated) by every core: DataFusion deals whole row groups.
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
    let (mut assets, mut liabilities) = (0.0, 0.0);
    let mut written = 0;
    while written < n {
        let rows = CHUNK.min(n - written);
        let mut chunk = Rows::with_capacity(rows);
        for i in written..written + rows {
            let product = pick_product(&mut rng);
            product.generate(i, as_of, &mut rng, &mut chunk);
        }
        for ((balance, side), currency) in
            chunk.balance.iter().zip(&chunk.side).zip(&chunk.currency)
        {
            let usd = balance * fx_to_usd(currency);
            if *side == "asset" {
                assets += usd;
            } else {
                liabilities += usd;
            }
        }
        writer.write(&chunk.into_batch(&schema)?)?;
        written += rows;
        progress(written);
    }
    writer.close()?;
    // Tier 1: 80 % of book equity, or 8 % of assets when the book shows none; in USD millions.
    let equity = assets - liabilities;
    let tier1 = (if equity > 0.0 {
        equity * 0.8
    } else {
        assets * 0.08
    } / 1e6)
        .round()
        * 1e6;
    write_curves(out, as_of)?;
    write_small(out, "capital", capital_batch(as_of, tier1)?)?;
    write_small(out, "fx_rates", fx_batch(as_of)?)?;
    Ok(GeneratedBank {
        instruments: n,
        total_assets: assets,
        total_liabilities: liabilities,
        tier1_capital: tier1,
    })
}

fn io_err(path: &Path, e: std::io::Error) -> DataFusionError {
    DataFusionError::Execution(format!("{}: {e}", path.display()))
}

/// EUR/USD of the demo bank's `fx_rates` table.
const EUR_USD: f64 = 1.1745;

fn fx_to_usd(currency: &str) -> f64 {
    if currency == "EUR" {
        EUR_USD
    } else {
        1.0
    }
}

pub fn instrument_schema() -> SchemaRef {
    let text = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let num = |n: &str, null: bool| Field::new(n, DataType::Float64, null);
    let int = |n: &str, null: bool| Field::new(n, DataType::Int32, null);
    let date = |n: &str, null: bool| Field::new(n, DataType::Date32, null);
    Arc::new(Schema::new(vec![
        text("instrument_id", false),
        text("portfolio", false),
        text("side", false),
        text("currency", false),
        num("balance", false),
        date("start_date", false),
        date("maturity_date", true),
        text("rate_type", false),
        num("rate", false),
        text("index_curve", true),
        num("spread", false),
        int("reset_months", true),
        num("rate_floor", true),
        num("rate_cap", true),
        int("payment_months", false),
        text("amortization", false),
        text("day_count", false),
        text("business_day", false),
        num("prepayment_rate", false),
        int("behavioral_months", false),
    ]))
}

#[derive(Default)]
struct Rows {
    id: Vec<String>,
    portfolio: Vec<&'static str>,
    side: Vec<&'static str>,
    currency: Vec<&'static str>,
    balance: Vec<f64>,
    start: Vec<i32>,
    maturity: Vec<Option<i32>>,
    rate_type: Vec<&'static str>,
    rate: Vec<f64>,
    index_curve: Vec<Option<&'static str>>,
    spread: Vec<f64>,
    reset_months: Vec<Option<i32>>,
    floor: Vec<Option<f64>>,
    cap: Vec<Option<f64>>,
    payment_months: Vec<i32>,
    amortization: Vec<&'static str>,
    day_count: Vec<&'static str>,
    business_day: Vec<&'static str>,
    prepayment: Vec<f64>,
    behavioral_months: Vec<i32>,
}

impl Rows {
    fn with_capacity(n: usize) -> Rows {
        Rows {
            id: Vec::with_capacity(n),
            balance: Vec::with_capacity(n),
            ..Default::default()
        }
    }

    fn into_batch(self, schema: &SchemaRef) -> Result<RecordBatch> {
        let text = |v: Vec<&'static str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.id)),
            text(self.portfolio),
            text(self.side),
            text(self.currency),
            Arc::new(Float64Array::from(self.balance)),
            Arc::new(Date32Array::from(self.start)),
            Arc::new(Date32Array::from(self.maturity)),
            text(self.rate_type),
            Arc::new(Float64Array::from(self.rate)),
            Arc::new(StringArray::from(self.index_curve)),
            Arc::new(Float64Array::from(self.spread)),
            Arc::new(Int32Array::from(self.reset_months)),
            Arc::new(Float64Array::from(self.floor)),
            Arc::new(Float64Array::from(self.cap)),
            Arc::new(Int32Array::from(self.payment_months)),
            text(self.amortization),
            text(self.day_count),
            text(self.business_day),
            Arc::new(Float64Array::from(self.prepayment)),
            Arc::new(Int32Array::from(self.behavioral_months)),
        ];
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// One product line of the demo bank.
struct Product {
    code: &'static str,
    portfolio: &'static str,
    side: &'static str,
    /// Share of the instrument count.
    weight: f64,
    /// Balance range (uniform in log space).
    balance: (f64, f64),
    /// Term in years (None: non-maturity product).
    term_years: Option<&'static [i32]>,
    floating: Option<Floating>,
    rate: (f64, f64),
    payment_months: i32,
    amortization: &'static str,
    day_count: &'static str,
    business_day: &'static str,
    cpr: (f64, f64),
    behavioral_months: i32,
    /// Share of EUR positions.
    eur_share: f64,
}

struct Floating {
    usd_index: &'static str,
    eur_index: &'static str,
    reset_months: i32,
    spread: (f64, f64),
    floor: Option<f64>,
    cap: Option<f64>,
}

const PRODUCTS: [Product; 12] = [
    Product {
        code: "MTGF",
        portfolio: "retail_mortgages_fixed",
        side: "asset",
        weight: 0.22,
        balance: (150e3, 2e6),
        term_years: Some(&[15, 20, 25, 30]),
        floating: None,
        rate: (0.025, 0.07),
        payment_months: 1,
        amortization: "annuity",
        day_count: "30/360",
        business_day: "following",
        cpr: (0.03, 0.10),
        behavioral_months: 60,
        eur_share: 0.2,
    },
    Product {
        code: "MTGA",
        portfolio: "retail_mortgages_arm",
        side: "asset",
        weight: 0.08,
        balance: (100e3, 1.2e6),
        term_years: Some(&[25, 30]),
        floating: Some(Floating {
            usd_index: "USD_SOFR",
            eur_index: "EUR_EURIBOR",
            reset_months: 12,
            spread: (0.02, 0.03),
            floor: Some(0.02),
            cap: Some(0.09),
        }),
        rate: (0.045, 0.07),
        payment_months: 1,
        amortization: "annuity",
        day_count: "30/360",
        business_day: "following",
        cpr: (0.05, 0.12),
        behavioral_months: 60,
        eur_share: 0.3,
    },
    Product {
        code: "CONS",
        portfolio: "consumer_loans",
        side: "asset",
        weight: 0.15,
        balance: (5e3, 60e3),
        term_years: Some(&[2, 3, 4, 5, 6]),
        floating: None,
        rate: (0.06, 0.14),
        payment_months: 1,
        amortization: "annuity",
        day_count: "ACT/365F",
        business_day: "following",
        cpr: (0.08, 0.15),
        behavioral_months: 60,
        eur_share: 0.2,
    },
    Product {
        code: "COML",
        portfolio: "commercial_loans",
        side: "asset",
        weight: 0.08,
        balance: (500e3, 8e6),
        term_years: Some(&[3, 5, 7]),
        floating: None,
        rate: (0.045, 0.085),
        payment_months: 3,
        amortization: "linear",
        day_count: "ACT/360",
        business_day: "modified_following",
        cpr: (0.0, 0.05),
        behavioral_months: 60,
        eur_share: 0.25,
    },
    Product {
        code: "CRE",
        portfolio: "commercial_real_estate",
        side: "asset",
        weight: 0.05,
        balance: (2e6, 25e6),
        term_years: Some(&[5, 7, 10]),
        floating: Some(Floating {
            usd_index: "USD_SOFR",
            eur_index: "EUR_EURIBOR",
            reset_months: 3,
            spread: (0.025, 0.035),
            floor: Some(0.03),
            cap: None,
        }),
        rate: (0.06, 0.08),
        payment_months: 3,
        amortization: "bullet",
        day_count: "ACT/360",
        business_day: "modified_following",
        cpr: (0.0, 0.0),
        behavioral_months: 60,
        eur_share: 0.25,
    },
    Product {
        code: "GOVT",
        portfolio: "government_securities",
        side: "asset",
        weight: 0.03,
        balance: (5e6, 50e6),
        term_years: Some(&[2, 3, 5, 7, 10, 20, 30]),
        floating: None,
        rate: (0.01, 0.05),
        payment_months: 6,
        amortization: "bullet",
        day_count: "ACT/ACT",
        business_day: "following",
        cpr: (0.0, 0.0),
        behavioral_months: 60,
        eur_share: 0.3,
    },
    Product {
        code: "CORP",
        portfolio: "corporate_securities",
        side: "asset",
        weight: 0.02,
        balance: (2e6, 20e6),
        term_years: Some(&[3, 5, 7, 10]),
        floating: None,
        rate: (0.03, 0.065),
        payment_months: 6,
        amortization: "bullet",
        day_count: "30/360",
        business_day: "following",
        cpr: (0.0, 0.0),
        behavioral_months: 60,
        eur_share: 0.3,
    },
    Product {
        code: "TDEP",
        portfolio: "term_deposits",
        side: "liability",
        weight: 0.13,
        balance: (200e3, 5e6),
        term_years: Some(&[1, 2, 3, 5]),
        floating: None,
        rate: (0.02, 0.045),
        payment_months: 0,
        amortization: "bullet",
        day_count: "ACT/365F",
        business_day: "following",
        cpr: (0.0, 0.0),
        behavioral_months: 60,
        eur_share: 0.25,
    },
    Product {
        code: "CHK",
        portfolio: "checking_accounts",
        side: "liability",
        weight: 0.11,
        balance: (1e6, 10e6),
        term_years: None,
        floating: None,
        rate: (0.0, 0.005),
        payment_months: 1,
        amortization: "bullet",
        day_count: "ACT/365F",
        business_day: "following",
        cpr: (0.10, 0.20),
        behavioral_months: 60,
        eur_share: 0.25,
    },
    Product {
        code: "SAV",
        portfolio: "savings_accounts",
        side: "liability",
        weight: 0.10,
        balance: (1e6, 10e6),
        term_years: None,
        floating: None,
        rate: (0.01, 0.03),
        payment_months: 1,
        amortization: "bullet",
        day_count: "ACT/365F",
        business_day: "following",
        cpr: (0.15, 0.25),
        behavioral_months: 84,
        eur_share: 0.25,
    },
    Product {
        code: "WHSL",
        portfolio: "wholesale_funding",
        side: "liability",
        weight: 0.02,
        balance: (5e6, 40e6),
        term_years: Some(&[1, 2, 3, 5]),
        floating: Some(Floating {
            usd_index: "USD_SOFR",
            eur_index: "EUR_ESTR",
            reset_months: 3,
            spread: (0.003, 0.012),
            floor: None,
            cap: None,
        }),
        rate: (0.04, 0.05),
        payment_months: 3,
        amortization: "bullet",
        day_count: "ACT/360",
        business_day: "modified_following",
        cpr: (0.0, 0.0),
        behavioral_months: 60,
        eur_share: 0.3,
    },
    Product {
        code: "SUBD",
        portfolio: "subordinated_debt",
        side: "liability",
        weight: 0.005,
        balance: (5e6, 25e6),
        term_years: Some(&[10]),
        floating: None,
        rate: (0.05, 0.075),
        payment_months: 6,
        amortization: "bullet",
        day_count: "30/360",
        business_day: "following",
        cpr: (0.0, 0.0),
        behavioral_months: 60,
        eur_share: 0.2,
    },
];

fn pick_product(rng: &mut ChaCha8Rng) -> &'static Product {
    let total: f64 = PRODUCTS.iter().map(|p| p.weight).sum();
    let mut x = rng.random::<f64>() * total;
    for p in &PRODUCTS {
        if x < p.weight {
            return p;
        }
        x -= p.weight;
    }
    &PRODUCTS[PRODUCTS.len() - 1]
}

fn round_to(x: f64, step: f64) -> f64 {
    (x / step).round() * step
}

impl Product {
    fn generate(&self, i: usize, as_of: Date, rng: &mut ChaCha8Rng, out: &mut Rows) {
        let uniform =
            |rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)| lo + (hi - lo) * rng.random::<f64>();
        let eur = rng.random::<f64>() < self.eur_share;
        let balance = (self.balance.0.ln()
            + (self.balance.1 / self.balance.0).ln() * rng.random::<f64>())
        .exp();
        let (start, maturity) = match self.term_years {
            Some(terms) => {
                let term_months = 12 * terms[rng.random_range(0..terms.len())];
                // Age: up to the term less a month, and at most ten years.
                let age_months = rng.random_range(0..(term_months - 1).min(120));
                let start = as_of
                    .add_months(-age_months)
                    .add_days(-rng.random_range(0..28));
                (start, Some(start.add_months(term_months).0))
            }
            None => (as_of.add_months(-rng.random_range(1..240)), None),
        };
        let rate = round_to(uniform(rng, self.rate), 1e-5);
        out.id.push(format!("{}-{:08}", self.code, i + 1));
        out.portfolio.push(self.portfolio);
        out.side.push(self.side);
        out.currency.push(if eur { "EUR" } else { "USD" });
        out.balance.push(round_to(balance, 0.01));
        out.start.push(start.0);
        out.maturity.push(maturity);
        match &self.floating {
            Some(f) => {
                out.rate_type.push("floating");
                out.index_curve
                    .push(Some(if eur { f.eur_index } else { f.usd_index }));
                out.spread.push(round_to(uniform(rng, f.spread), 1e-5));
                out.reset_months.push(Some(f.reset_months));
                out.floor.push(f.floor);
                out.cap.push(f.cap);
            }
            None => {
                out.rate_type.push("fixed");
                out.index_curve.push(None);
                out.spread.push(0.0);
                out.reset_months.push(None);
                out.floor.push(None);
                out.cap.push(None);
            }
        }
        // EUR rates sit about 1.5 points below USD.
        out.rate.push(if eur {
            round_to((rate - 0.015).max(0.0), 1e-5)
        } else {
            rate
        });
        out.payment_months.push(self.payment_months);
        out.amortization.push(self.amortization);
        out.day_count.push(self.day_count);
        out.business_day.push(self.business_day);
        out.prepayment.push(round_to(uniform(rng, self.cpr), 1e-4));
        out.behavioral_months.push(self.behavioral_months);
    }
}

const TENORS: [&str; 13] = [
    "ON", "1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y",
];

/// (curve_id, currency, is_discount, zero rates at TENORS on the as-of date).
const CURVES: [(&str, &str, bool, [f64; 13]); 4] = [
    (
        "EUR_ESTR",
        "EUR",
        true,
        [
            0.0193, 0.0192, 0.0195, 0.0199, 0.0205, 0.0214, 0.0224, 0.0242, 0.0258, 0.0275, 0.0294,
            0.0301, 0.0298,
        ],
    ),
    (
        "EUR_EURIBOR",
        "EUR",
        false,
        [
            0.0203, 0.0206, 0.0212, 0.0218, 0.0226, 0.0233, 0.0241, 0.0257, 0.0272, 0.0288, 0.0306,
            0.0312, 0.0309,
        ],
    ),
    (
        "USD_SOFR",
        "USD",
        true,
        [
            0.0387, 0.0385, 0.0379, 0.0370, 0.0358, 0.0346, 0.0345, 0.0352, 0.0364, 0.0381, 0.0405,
            0.0419, 0.0421,
        ],
    ),
    (
        "USD_TREASURY",
        "USD",
        false,
        [
            0.0372, 0.0371, 0.0366, 0.0358, 0.0347, 0.0349, 0.0353, 0.0368, 0.0385, 0.0404, 0.0441,
            0.0463, 0.0459,
        ],
    ),
];

fn write_curves(out: &Path, as_of: Date) -> Result<()> {
    // Two snapshots: the as-of date and the month before (2bp lower), as a lake holds history.
    let previous = Date::from_ymd(2025, 11, 28).unwrap_or(as_of);
    let mut cols: (
        Vec<&str>,
        Vec<&str>,
        Vec<i32>,
        Vec<&str>,
        Vec<f64>,
        Vec<bool>,
    ) = Default::default();
    for (date, bump) in [(previous, -0.0002), (as_of, 0.0)] {
        for (id, ccy, discount, rates) in &CURVES {
            for (tenor, rate) in TENORS.iter().zip(rates) {
                cols.0.push(id);
                cols.1.push(ccy);
                cols.2.push(date.0);
                cols.3.push(tenor);
                cols.4.push(round_to(rate + bump, 1e-6));
                cols.5.push(*discount);
            }
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("curve_id", DataType::Utf8, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("as_of_date", DataType::Date32, false),
        Field::new("tenor", DataType::Utf8, false),
        Field::new("zero_rate", DataType::Float64, false),
        Field::new("is_discount", DataType::Boolean, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(cols.0)),
            Arc::new(StringArray::from(cols.1)),
            Arc::new(Date32Array::from(cols.2)),
            Arc::new(StringArray::from(cols.3)),
            Arc::new(Float64Array::from(cols.4)),
            Arc::new(BooleanArray::from(cols.5)),
        ],
    )?;
    write_small(out, "curves", batch)
}

fn capital_batch(as_of: Date, tier1: f64) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("as_of_date", DataType::Date32, false),
        Field::new("tier1_capital", DataType::Float64, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Date32Array::from(vec![as_of.0])),
            Arc::new(Float64Array::from(vec![tier1])),
        ],
    )?)
}

fn fx_batch(as_of: Date) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("as_of_date", DataType::Date32, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("rate_to_reporting", DataType::Float64, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Date32Array::from(vec![as_of.0, as_of.0])),
            Arc::new(StringArray::from(vec!["EUR", "USD"])),
            Arc::new(Float64Array::from(vec![EUR_USD, 1.0])),
        ],
    )?)
}

fn write_small(out: &Path, name: &str, batch: RecordBatch) -> Result<()> {
    let path = out.join(format!("{name}.parquet"));
    let file = File::create(&path).map_err(|e| io_err(&path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

    /// A generated book is written in row groups of `ROW_GROUP_ROWS`
    /// instruments, so that every core gets some of a single-file book.
    #[test]
    fn books_are_written_in_several_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let n = 2 * ROW_GROUP_ROWS + 100;
        generate(n, 3, dir.path(), |_| {}).unwrap();
        let file = File::open(dir.path().join("instruments.parquet")).unwrap();
        let metadata = SerializedFileReader::new(file).unwrap().metadata().clone();
        let rows: Vec<i64> = metadata.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(rows, [ROW_GROUP_ROWS as i64, ROW_GROUP_ROWS as i64, 100]);
    }
}
