import { ENGINE_MODES } from '@kubectl-dbaas/sdk';
import { describe, expect, it } from 'vitest';
import { ENGINE_MODES_TEXT } from './index.js';

describe('backup create --help: modes by engine', () => {
  it("says what the SDK's ENGINE_MODES table says", () => {
    const line = (name: string, modes: { atomic: readonly string[]; nonAtomic: readonly string[] }) =>
      `${name}: ${modes.atomic.join(', ')} on atomic drivers; ${modes.nonAtomic.join(', ')} on others`;
    expect(ENGINE_MODES.mysql).toEqual(ENGINE_MODES.mariadb);
    expect(ENGINE_MODES_TEXT).toContain(line('PostgreSQL', ENGINE_MODES.postgres));
    expect(ENGINE_MODES_TEXT).toContain(line('MySQL and MariaDB', ENGINE_MODES.mysql));
  });
});
