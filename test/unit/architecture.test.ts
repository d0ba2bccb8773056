import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';

// The lint rule that keeps I/O out of pure code is what CI relies on: prove it bites.
const eslint = new ESLint();

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('architecture rule', () => {
  it('refuses I/O modules in workflows, the domain and the sequences', async () => {
    expect(await problems('workflows/bad.ts', "import pg from 'pg';\nexport const x = pg;\n")).toHaveLength(1);
    expect(await problems('src/domain/bad.ts', "import fs from 'node:fs';\nexport const x = fs;\n")).toHaveLength(1);
    expect(await problems('src/sequences/bad.ts', "import { createPool } from '../infra/db.js';\nexport const x = createPool;\n")).toHaveLength(1);
  });

  it('lets workflows import activity types but not activity code', async () => {
    expect(await problems('workflows/ok.ts', "import type { ActivityDeps } from '../activities/index.js';\nexport type X = ActivityDeps;\n")).toHaveLength(0);
    expect(await problems('workflows/bad.ts', "import { createActivities } from '../activities/index.js';\nexport const x = createActivities;\n")).toHaveLength(1);
  });

  it('keeps Temporal, zod and I/O out of the lead machine', async () => {
    expect(await problems('src/domain/lead/bad.ts', "import { z } from 'zod';\nexport const x = z;\n")).toHaveLength(1);
    expect(await problems('src/domain/lead/bad.ts', "import { sleep } from '@temporalio/workflow';\nexport const x = sleep;\n")).toHaveLength(1);
    expect(await problems('src/domain/lead/bad.ts', "import { SequenceSchema } from '../../sequences/model.js';\nexport const x = SequenceSchema;\n")).toHaveLength(1);
    expect(await problems('src/domain/lead/ok.ts', "import type { Sequence } from '../../sequences/model.js';\nexport type X = Sequence;\n")).toHaveLength(0);
  });

  it('leaves adapters free to do I/O', async () => {
    expect(await problems('activities/ok.ts', "import pg from 'pg';\nexport const x = pg;\n")).toHaveLength(0);
  });
});
