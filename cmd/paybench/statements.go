package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
)

// statementsSetting loads pg_stat_statements into the platform's PostgreSQL (-statements).
const statementsSetting = "shared_preload_libraries=pg_stat_statements"

// resetStatements creates pg_stat_statements in the database at url and empties it, so that
// what it counts next is the measured run's.
func resetStatements(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	return nil
}

// printStatements writes the n statements that took the most execution time in the database
// at url since resetStatements, per payment of ops: calls, execution time, rows and blocks
// touched in shared buffers (hits and reads), so that a statement's share of a payment's
// database cost is visible.
func printStatements(ctx context.Context, out io.Writer, url string, n int, ops int64) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	defer conn.Close(ctx)
	per := float64(max(ops, 1))
	var calls, blocks, jitFunctions int64
	var ms, jitMS float64
	// JIT compilations (PostgreSQL 15's columns): what the planner's estimate sent to the JIT
	// compiler, which payd's sessions turn off (core/postgres noJIT); another client of the
	// database would show here.
	if err := conn.QueryRow(ctx, `SELECT COALESCE(sum(calls), 0)::INT8, COALESCE(sum(total_exec_time), 0)::FLOAT8,
		COALESCE(sum(shared_blks_hit + shared_blks_read), 0)::INT8,
		COALESCE(sum(jit_functions), 0)::INT8,
		COALESCE(sum(jit_generation_time + jit_inlining_time + jit_optimization_time + jit_emission_time), 0)::FLOAT8
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&calls, &ms, &blocks, &jitFunctions, &jitMS); err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	fmt.Fprintf(out, "statements:     per payment (%d payments), all statements: %.1f calls, %.2f ms executing, %.0f buffers; JIT: %d functions compiled in %.1f ms in all\n",
		ops, float64(calls)/per, ms/per, float64(blocks)/per, jitFunctions, jitMS)
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, rows, shared_blks_hit + shared_blks_read, query
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	defer rows.Close()
	fmt.Fprintf(out, "                the top %d by execution time: calls, ms, rows, buffers, query\n", n)
	for rows.Next() {
		var (
			calls, nrows, blocks int64
			ms                   float64
			query                string
		)
		if err := rows.Scan(&calls, &ms, &nrows, &blocks, &query); err != nil {
			return fmt.Errorf("pg_stat_statements: %w", err)
		}
		q := strings.Join(strings.Fields(query), " ")
		if len(q) > 160 {
			q = q[:160] + "…"
		}
		fmt.Fprintf(out, "  %5.2f %7.4f %6.2f %7.1f  %s\n", float64(calls)/per, ms/per, float64(nrows)/per, float64(blocks)/per, q)
	}
	return rows.Err()
}
