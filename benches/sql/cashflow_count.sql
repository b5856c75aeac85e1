-- How many cash flows the EVE workload generates (base and six shocks).
SELECT COUNT(*) AS flows FROM cashflows('instruments', DATE '2025-12-31', 'bcbs');
