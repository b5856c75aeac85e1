//! # almanac-core
//!
//! The finance of Almanac with no SQL engine in it: dates as day numbers, the
//! five day counts, business-day calendars, backward schedules, amortisation,
//! behavioural run-off, floating-rate projection, zero curves and rate
//! scenarios (including the Basel IRRBB shocks). Every rule follows
//! `methodology.md` of the specification; where it is silent, QuantLib.

pub mod buckets;
pub mod calendar;
pub mod cashflow;
pub mod code;
pub mod curve;
pub mod date;
pub mod daycount;
pub mod error;
mod grid;
pub mod instrument;
pub mod nii;
pub mod repricing;
mod reset_chain;
pub mod scenario;
pub mod schedule;

pub use calendar::{BusinessDayRule, Calendar};
pub use cashflow::{Flow, Projector};
pub use curve::{tenor_years, Curve};
pub use date::Date;
pub use daycount::DayCount;
pub use error::{Error, Result};
pub use grid::GridWindow;
pub use instrument::{
    Amortization, FloatingTerms, Instrument, KnownCodes, RateType, RawInstrument, Side,
};
pub use scenario::{
    BaselShock, LaneFactors, RateFloor, Scenario, ScenarioCurve, ScenarioSpec, Shift,
    ShockSizeTable,
};
