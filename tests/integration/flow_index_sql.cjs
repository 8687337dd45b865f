// Runs SQL statements on DuckDB (@duckdb/node-api, installed by ./dev from
// tests/integration/duckdb's lock file) and prints each statement's rows as
// one JSON line: test_flow_index.py's real SQL engine.
// Usage: node flow_index_sql.cjs NODE_MODULES_DIR < statements.json (a JSON list of strings)
const path = require("path");
const { DuckDBInstance } = require(path.join(process.argv[2], "@duckdb/node-api"));

async function main() {
    const statements = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const db = await DuckDBInstance.create(":memory:");
    const con = await db.connect();
    for (const sql of statements) {
        const result = await con.runAndReadAll(sql);
        process.stdout.write(JSON.stringify(result.getRowObjectsJson()) + "\n");
    }
}

main().catch((e) => {
    process.stderr.write(String(e && e.stack || e) + "\n");
    process.exit(1);
});
