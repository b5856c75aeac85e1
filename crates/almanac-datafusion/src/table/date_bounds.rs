//! The days a join can still match in `discount_factors()`' output.
//!
//! An EVE joins a few hundred thousand summed cash flows to discount factors
//! for every calendar day of the horizon (a million rows for the six Basel
//! shocks over 200 years), and the join probes all of them. DataFusion's hash
//! join pushes a *dynamic filter* down its probe side: once its build side is
//! in, the filter holds each build partition's key bounds (`date >= lo AND
//! date <= hi AND …`, inside a `CASE` on the probe row's hash partition).
//! `CurveTableExec` takes that filter and builds only the days inside its
//! date bounds. The join itself still matches every row, so the bounds only
//! need to be *sound*: every row the filter keeps lies within them.
//!
//! The reading is conservative. An expression not understood bounds nothing:
//! an `AND` keeps the bounds of either side, a `CASE` the union of its
//! branches', a literal `false` (a partition with no build rows) keeps no
//! day, and a date compared to a date literal bounds that side.

use std::sync::Arc;

use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, Column, DynamicFilterPhysicalExpr, Literal,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::scalar::ScalarValue;

/// Inclusive day numbers (Date32) `lo..=hi`; empty when `lo > hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayBounds {
    pub lo: i32,
    pub hi: i32,
}

impl DayBounds {
    /// Every day.
    pub const ALL: DayBounds = DayBounds {
        lo: i32::MIN,
        hi: i32::MAX,
    };
    /// No day.
    const NONE: DayBounds = DayBounds {
        lo: i32::MAX,
        hi: i32::MIN,
    };

    /// `day` and every day after.
    fn from_day(day: i32) -> DayBounds {
        DayBounds {
            lo: day,
            ..DayBounds::ALL
        }
    }

    /// Every day up to `day`.
    fn until(day: i32) -> DayBounds {
        DayBounds {
            hi: day,
            ..DayBounds::ALL
        }
    }

    /// Days in both.
    pub fn and(self, other: DayBounds) -> DayBounds {
        DayBounds {
            lo: self.lo.max(other.lo),
            hi: self.hi.min(other.hi),
        }
    }

    /// Days in either (and those between).
    fn or(self, other: DayBounds) -> DayBounds {
        DayBounds {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }
}

/// Whether `filter` is a dynamic filter (it changes once the join's build
/// side is in, so it is read when the table is built, not when planned).
pub(crate) fn is_dynamic(filter: &Arc<dyn PhysicalExpr>) -> bool {
    filter.downcast_ref::<DynamicFilterPhysicalExpr>().is_some()
}

/// Bounds on column `date` (its index in the rows `filter` is evaluated on)
/// that every row `filter` keeps lies within.
pub(crate) fn day_bounds(filter: &Arc<dyn PhysicalExpr>, date: usize) -> DayBounds {
    if let Some(dynamic) = filter.downcast_ref::<DynamicFilterPhysicalExpr>() {
        return dynamic
            .current()
            .map_or(DayBounds::ALL, |now| day_bounds(&now, date));
    }
    if let Some(literal) = filter.downcast_ref::<Literal>() {
        return match literal.value() {
            ScalarValue::Boolean(Some(false)) => DayBounds::NONE,
            _ => DayBounds::ALL,
        };
    }
    if let Some(case) = filter.downcast_ref::<CaseExpr>() {
        // A row kept took one branch, or the ELSE (none: NULL, not kept).
        let branches = case.when_then_expr().iter().map(|(_, then)| then);
        let otherwise = case
            .else_expr()
            .map_or(DayBounds::NONE, |e| day_bounds(e, date));
        return branches.fold(otherwise, |acc, then| acc.or(day_bounds(then, date)));
    }
    if let Some(binary) = filter.downcast_ref::<BinaryExpr>() {
        let (left, right) = (binary.left(), binary.right());
        return match binary.op() {
            Operator::And => day_bounds(left, date).and(day_bounds(right, date)),
            op => compared_day(left, right, date).map_or(DayBounds::ALL, |day| match op {
                Operator::GtEq => DayBounds::from_day(day),
                Operator::Gt => DayBounds::from_day(day.saturating_add(1)),
                Operator::LtEq => DayBounds::until(day),
                Operator::Lt => DayBounds::until(day.saturating_sub(1)),
                Operator::Eq => DayBounds::from_day(day).and(DayBounds::until(day)),
                _ => DayBounds::ALL,
            }),
        };
    }
    DayBounds::ALL
}

/// The day `date_column <op> day` compares with, if that is the shape.
fn compared_day(
    left: &Arc<dyn PhysicalExpr>,
    right: &Arc<dyn PhysicalExpr>,
    date: usize,
) -> Option<i32> {
    let column = left.downcast_ref::<Column>()?;
    if column.index() != date {
        return None;
    }
    match right.downcast_ref::<Literal>()?.value() {
        ScalarValue::Date32(Some(day)) => Some(*day),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_expr::expressions::lit;

    fn date_col() -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new("date", 2))
    }

    fn cmp(left: Arc<dyn PhysicalExpr>, op: Operator, day: i32) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(
            left,
            op,
            lit(ScalarValue::Date32(Some(day))),
        ))
    }

    fn and(a: Arc<dyn PhysicalExpr>, b: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(a, Operator::And, b))
    }

    fn between(lo: i32, hi: i32) -> Arc<dyn PhysicalExpr> {
        and(
            cmp(date_col(), Operator::GtEq, lo),
            cmp(date_col(), Operator::LtEq, hi),
        )
    }

    /// A partition's filter as the hash join writes it: other keys' bounds,
    /// then the date's, then a membership test this reading does not know.
    fn partition(lo: i32, hi: i32) -> Arc<dyn PhysicalExpr> {
        let scenario: Arc<dyn PhysicalExpr> = Arc::new(Column::new("scenario", 0));
        let other = Arc::new(BinaryExpr::new(
            Arc::clone(&scenario),
            Operator::GtEq,
            lit("base"),
        ));
        let unknown = Arc::new(BinaryExpr::new(scenario, Operator::NotEq, lit("x")));
        and(and(other, between(lo, hi)), unknown)
    }

    #[test]
    fn a_conjunction_keeps_the_dates_bounds() {
        assert_eq!(
            day_bounds(&between(100, 200), 2),
            DayBounds { lo: 100, hi: 200 }
        );
        assert_eq!(
            day_bounds(&partition(100, 200), 2),
            DayBounds { lo: 100, hi: 200 }
        );
        let strict = and(
            cmp(date_col(), Operator::Gt, 100),
            cmp(date_col(), Operator::Lt, 200),
        );
        assert_eq!(day_bounds(&strict, 2), DayBounds { lo: 101, hi: 199 });
        assert_eq!(
            day_bounds(&cmp(date_col(), Operator::Eq, 150), 2),
            DayBounds { lo: 150, hi: 150 }
        );
    }

    #[test]
    fn a_case_keeps_the_union_of_its_branches() {
        let hash: Arc<dyn PhysicalExpr> = Arc::new(Column::new("hash", 9));
        let case = |otherwise: Option<Arc<dyn PhysicalExpr>>| -> Arc<dyn PhysicalExpr> {
            Arc::new(
                CaseExpr::try_new(
                    Some(Arc::clone(&hash)),
                    vec![
                        (lit(0u64), partition(100, 200)),
                        (lit(1u64), partition(150, 400)),
                        (lit(2u64), lit(false)),
                    ],
                    otherwise,
                )
                .expect("case"),
            )
        };
        assert_eq!(day_bounds(&case(None), 2), DayBounds { lo: 100, hi: 400 });
        assert_eq!(
            day_bounds(&case(Some(lit(false))), 2),
            DayBounds { lo: 100, hi: 400 }
        );
        // An ELSE that keeps rows unbounded leaves every day.
        assert_eq!(day_bounds(&case(Some(lit(true))), 2), DayBounds::ALL);
    }

    #[test]
    fn what_is_not_understood_bounds_nothing() {
        let or = Arc::new(BinaryExpr::new(
            between(100, 200),
            Operator::Or,
            between(300, 400),
        )) as Arc<dyn PhysicalExpr>;
        assert_eq!(day_bounds(&or, 2), DayBounds::ALL);
        // Another column, a literal on the left, a non-date literal.
        let other: Arc<dyn PhysicalExpr> = Arc::new(Column::new("date", 3));
        assert_eq!(
            day_bounds(&cmp(other, Operator::GtEq, 100), 2),
            DayBounds::ALL
        );
        let flipped = Arc::new(BinaryExpr::new(
            lit(ScalarValue::Date32(Some(100))),
            Operator::LtEq,
            date_col(),
        )) as Arc<dyn PhysicalExpr>;
        assert_eq!(day_bounds(&flipped, 2), DayBounds::ALL);
        let number = Arc::new(BinaryExpr::new(date_col(), Operator::GtEq, lit(100i32)))
            as Arc<dyn PhysicalExpr>;
        assert_eq!(day_bounds(&number, 2), DayBounds::ALL);
        assert_eq!(day_bounds(&lit(true), 2), DayBounds::ALL);
        assert_eq!(day_bounds(&lit(false), 2), DayBounds::NONE);
    }

    #[test]
    fn a_dynamic_filter_is_read_as_it_is_now() {
        let dynamic = Arc::new(DynamicFilterPhysicalExpr::new(vec![date_col()], lit(true)));
        let filter: Arc<dyn PhysicalExpr> = dynamic.clone();
        assert!(is_dynamic(&filter));
        assert_eq!(day_bounds(&filter, 2), DayBounds::ALL);
        dynamic.update(between(100, 200)).expect("update");
        assert_eq!(day_bounds(&filter, 2), DayBounds { lo: 100, hi: 200 });
        assert!(!is_dynamic(&between(1, 2)));
    }
}
