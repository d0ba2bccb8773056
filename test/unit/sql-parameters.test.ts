import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every SQL statement is a constant string with $n parameters: no value is ever spliced into
 * SQL text. This walks the TypeScript of the product (and its scripts) and fails on any
 * `.query(...)` whose text is built at run time (a template with substitutions, `+`, a call).
 * Allowed: module-level constants made of constants (the funnel composes its SQL that way), and
 * an identifier passed through pg's escapeIdentifier. Temporal's `handle.query(...)` is no SQL.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIRS = ['src', 'activities', 'worker', 'workflows', 'chaos', 'scripts'];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return files(full);
    return /\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** `.query(text, …)` calls whose text is not a constant; escaped identifiers are allowed. */
export function builtSql(source: string, fileName = 'inline.ts'): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  // Module-level `const NAME = …`: a name that stands for a constant is as good as the constant.
  const constants = new Map<string, ts.Expression>();
  const functions = new Set<string>();
  for (const statement of file.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name) functions.add(statement.name.text);
    if (ts.isVariableStatement(statement) && statement.declarationList.flags & ts.NodeFlags.Const) {
      for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name) && d.initializer) constants.set(d.name.text, d.initializer);
    }
  }
  const constant = (node: ts.Expression, seen = new Set<string>()): boolean => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return true;
    if (ts.isIdentifier(node)) {
      const init = constants.get(node.text);
      if (!init || seen.has(node.text)) return false;
      return constant(init, new Set([...seen, node.text]));
    }
    if (ts.isTemplateExpression(node)) {
      return node.templateSpans.every(
        (span) => constant(span.expression, seen) || (ts.isCallExpression(span.expression) && /escapeIdentifier$/.test(span.expression.expression.getText(file))),
      );
    }
    if (ts.isParenthesizedExpression(node)) return constant(node.expression, seen);
    if (ts.isNumericLiteral(node)) return true;
    // A module function applied to constants only (the funnel's histogram columns): no value
    // from outside can reach its text.
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && functions.has(node.expression.text)) {
      return node.arguments.every((arg) => constant(arg, seen));
    }
    return false;
  };
  const visit = (node: ts.Node) => {
    const temporalHandle = (call: ts.CallExpression) => ts.isPropertyAccessExpression(call.expression) && /handle/i.test(call.expression.expression.getText(file));
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'query' && node.arguments.length > 0 && !temporalHandle(node)) {
      const text = node.arguments[0]!;
      // A config object ({ text, values }) is checked on its `text`.
      const sql = ts.isObjectLiteralExpression(text)
        ? (text.properties.find((p) => ts.isPropertyAssignment(p) && p.name.getText(file) === 'text') as ts.PropertyAssignment | undefined)?.initializer
        : text;
      if (sql && !constant(sql)) {
        const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
        found.push(`${fileName}:${line + 1}: ${node.getText(file).slice(0, 120)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('SQL is parameterized', () => {
  it('finds values spliced into SQL text (the check itself)', () => {
    expect(builtSql('db.query(`SELECT * FROM leads WHERE id = ${id}`)')).toHaveLength(1);
    expect(builtSql("db.query('SELECT * FROM leads WHERE id = ' + id)")).toHaveLength(1);
    expect(builtSql('db.query(sql)')).toHaveLength(1);
    expect(builtSql('pool.query({ text: `DELETE FROM x WHERE a = ${a}`, values: [] })')).toHaveLength(1);
    expect(builtSql("db.query('SELECT * FROM leads WHERE id = $1', [id])")).toEqual([]);
    expect(builtSql('db.query(`SELECT 1\n FROM leads WHERE id = $1`, [id])')).toEqual([]);
    expect(builtSql('admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)')).toEqual([]);
    expect(builtSql('const A = `SELECT 1`;\nconst B = `${A} UNION SELECT 2`;\ndb.query(B, [])')).toEqual([]);
    expect(builtSql('let A = `SELECT 1`;\ndb.query(A)')).toHaveLength(1);
    expect(builtSql('const A = `SELECT ${x}`;\ndb.query(A)')).toHaveLength(1);
    expect(builtSql("function cols(p: string) { return p; }\nconst A = `SELECT ${cols('a', 2)}`;\ndb.query(A)")).toEqual([]);
    expect(builtSql('function cols(p: string) { return p; }\nconst A = `SELECT ${cols(x)}`;\ndb.query(A)')).toHaveLength(1);
    expect(builtSql("const cols = (p: string) => p;\nconst A = `SELECT ${cols('a')}`;\ndb.query(A)")).toHaveLength(1);
  });

  it('holds for every query in the product, its workers and its scripts', () => {
    const offenders = DIRS.flatMap((dir) => files(path.join(ROOT, dir))).flatMap((file) => builtSql(fs.readFileSync(file, 'utf8'), path.relative(ROOT, file)));
    expect(offenders).toEqual([]);
  });
});
