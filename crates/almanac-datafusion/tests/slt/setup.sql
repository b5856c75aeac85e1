-- A hand-built book, run before every .slt file. As of 2025-12-31.
CREATE TABLE instruments (
  instrument_id VARCHAR NOT NULL, portfolio VARCHAR, side VARCHAR, currency VARCHAR,
  balance DOUBLE, start_date DATE, maturity_date DATE, rate_type VARCHAR, rate DOUBLE,
  index_curve VARCHAR, spread DOUBLE, reset_months INT, rate_floor DOUBLE, rate_cap DOUBLE,
  payment_months INT, amortization VARCHAR, day_count VARCHAR, business_day VARCHAR,
  prepayment_rate DOUBLE, behavioral_months INT
) AS VALUES
  ('BOND1', 'securities', 'asset', 'USD', 1000.0, DATE '2024-06-30', DATE '2027-06-30', 'fixed', 0.05, NULL, 0.0, NULL, NULL, NULL, 12, 'bullet', '30/360', 'unadjusted', 0.0, 60),
  ('LOAN1', 'loans', 'asset', 'usd', 1200.0, DATE '2025-12-31', DATE '2026-12-31', 'FIXED', 0.12, NULL, 0.0, NULL, NULL, NULL, 1, 'linear', '30/360', 'unadjusted', 0.0, 60),
  ('FRN1', 'wholesale', 'liability', 'USD', 1000.0, DATE '2025-10-15', DATE '2026-07-15', 'floating', 0.06, 'USD_OIS', 0.01, 3, NULL, NULL, 3, 'bullet', 'ACT/360', 'unadjusted', 0.0, 60),
  ('DEP1', 'savings', 'liability', 'EUR', 1200.0, DATE '2020-01-01', NULL, 'fixed', 0.01, NULL, 0.0, NULL, NULL, NULL, 1, 'bullet', 'ACT/365F', 'following', 0.2, 3);
-- Flat curves: USD 4 %, EUR 0.5 % (continuous, ACT/365F), plus an older USD date that must be ignored.
CREATE TABLE curves (curve_id VARCHAR, currency VARCHAR, as_of_date DATE, tenor VARCHAR, zero_rate DOUBLE, is_discount BOOLEAN) AS VALUES
  ('USD_OIS', 'USD', DATE '2025-12-31', '1Y', 0.04, true),
  ('USD_OIS', 'USD', DATE '2025-12-31', '10Y', 0.04, true),
  ('USD_OIS', 'USD', DATE '2025-11-28', '1Y', 0.09, true),
  ('EUR_OIS', 'EUR', DATE '2025-12-31', '1Y', 0.005, true),
  ('EUR_OIS', 'EUR', DATE '2025-12-31', '10Y', 0.005, true);
