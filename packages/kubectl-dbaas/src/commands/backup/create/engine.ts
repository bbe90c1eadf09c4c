// Which engine `backup create` connects to: the only engine decision the CLI makes, and only to
// choose which connection options to build (`pg`'s or `mysql2`'s). The evidence comes from the
// SDK (detectTargetEngine); the modes each engine allows are the SDK's (ENGINE_MODES).
import { DbaasError, type TargetEngineDetection } from '@kubectl-dbaas/sdk';

/**
 * The engine chosen, why, and whether to tell the SDK (`engineKind`): not when nothing named an
 * engine and PostgreSQL is only the default.
 *
 * @example
 * ```ts
 * const c: EngineChoice = { engine: 'mariadb', family: 'mysql', reason: 'image mariadb:10.11 (pod/shop-0)', explicit: true };
 * ```
 */
export interface EngineChoice {
  engine: 'postgres' | 'mysql' | 'mariadb';
  family: 'postgres' | 'mysql';
  reason: string;
  explicit: boolean;
}

const familyOf = (e: 'postgres' | 'mysql' | 'mariadb'): 'postgres' | 'mysql' => (e === 'postgres' ? 'postgres' : 'mysql');
const nameOf = (f: 'postgres' | 'mysql'): string => (f === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB');

/**
 * Chooses the engine: `--engine` wins; else what the target shows (the SDK's detection), which a
 * `--dsn` of the other engine's scheme contradicts (an error: one of them is wrong); else the
 * `--dsn` scheme; else PostgreSQL when nothing names an engine. Evidence that conflicts is an
 * error asking for `--engine`. Pure.
 *
 * @throws DbaasError `INVALID_ARGUMENT` on conflicting evidence, or a `--dsn` of the other engine.
 * @example
 * ```ts
 * chooseEngine({ detection: { engine: 'mariadb', source: 'image', evidence: 'image mariadb:10.11' } }).engine; // 'mariadb'
 * chooseEngine({ flag: 'mysql' }).family; // 'mysql'
 * ```
 */
export function chooseEngine(input: {
  flag?: 'postgres' | 'mysql' | undefined;
  dsn?: 'postgres' | 'mysql' | undefined;
  detection?: TargetEngineDetection | undefined;
}): EngineChoice {
  const { flag, dsn, detection } = input;
  const where = detection?.workload ? ` (${detection.workload})` : '';
  if (flag) {
    if (dsn && dsn !== flag) {
      throw new DbaasError('INVALID_ARGUMENT', `--engine ${flag} and a ${dsn === 'postgres' ? 'postgresql' : 'mysql'}:// --dsn disagree`, {
        fix: `Give a --dsn of ${nameOf(flag)} (${flag === 'postgres' ? 'postgresql' : 'mysql'}://...), or leave out --engine.`,
      });
    }
    // --engine mysql covers MariaDB: keep the detected flavor when the detection agrees.
    const engine = flag === 'mysql' && detection?.engine === 'mariadb' ? 'mariadb' : flag;
    return { engine, family: flag, reason: '--engine', explicit: true };
  }
  if (detection?.engine) {
    const family = familyOf(detection.engine);
    if (dsn && dsn !== family) {
      throw new DbaasError(
        'INVALID_ARGUMENT',
        `the target runs ${detection.engine} (${detection.evidence}${where}), but --dsn is a ${dsn === 'postgres' ? 'postgresql' : 'mysql'}:// URL`,
        {
          fix: `Give the ${nameOf(family)} connection, or --engine ${dsn} if the detection is wrong (or label the pod ${'dbaas.io/engine'}=${dsn}).`,
        },
      );
    }
    return { engine: detection.engine, family, reason: `${detection.evidence}${where}`, explicit: true };
  }
  if (dsn) return { engine: dsn, family: dsn, reason: `the --dsn scheme${detection ? `; the target shows ${detection.evidence}` : ''}`, explicit: true };
  if (detection?.source === 'conflict') {
    throw new DbaasError('INVALID_ARGUMENT', `cannot tell the target's engine: ${detection.evidence}${where}`, {
      fix: 'Say it: --engine postgres or --engine mysql (MySQL and MariaDB), or label the pod or StatefulSet dbaas.io/engine=postgres|mysql|mariadb.',
    });
  }
  return {
    engine: 'postgres',
    family: 'postgres',
    reason: `the default (${detection?.evidence ?? 'nothing read'}; --engine mysql for MySQL/MariaDB)`,
    explicit: false,
  };
}
