import { type CosignedCheckpoint, openCosignedCheckpoint } from '@mpay/merkle';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WebConfig } from '../config.ts';
import { Busy, ErrorNotice, Facts, Notice } from '../ui/components.tsx';
import { formatTime } from '../ui/format.ts';
import { consoleApi, type LogAnswer } from './api.ts';
import { LoadedView, Panel, RefreshButton, useLoad } from './parts.tsx';

function base64Of(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

type Verification =
  | { readonly state: 'checking' }
  | { readonly state: 'verified'; readonly cosigned: CosignedCheckpoint }
  | { readonly state: 'failed'; readonly error: unknown };

/**
 * The checkpoint verified here, in the page, with @mpay/merkle and the keys
 * of the deployment's config (never keys from the note itself): the log's
 * signature and at least `witnessesRequired` witness cosignatures.
 */
function useVerified(config: WebConfig, signedNote: string | null): Verification | undefined {
  const [verification, setVerification] = useState<Verification | undefined>();
  useEffect(() => {
    if (signedNote === null) {
      setVerification(undefined);
      return undefined;
    }
    let current = true;
    setVerification({ state: 'checking' });
    openCosignedCheckpoint(signedNote, {
      logVerifierKey: config.log.logVerifierKey,
      witnessVerifierKeys: config.log.witnessVerifierKeys,
      witnessesRequired: config.log.witnessesRequired,
    }).then(
      (cosigned) => current && setVerification({ state: 'verified', cosigned }),
      (error: unknown) => current && setVerification({ state: 'failed', error }),
    );
    return () => {
      current = false;
    };
  }, [config, signedNote]);
  return verification;
}

function Checkpoint(props: { readonly config: WebConfig; readonly answer: LogAnswer }): JSX.Element {
  const { answer } = props;
  const verification = useVerified(props.config, answer.signedNote);
  if (answer.signedNote === null)
    return (
      <p class="muted">No checkpoint yet{answer.lastError === null ? '' : `: ${answer.lastError.code}`}.</p>
    );
  if (verification === undefined || verification.state === 'checking')
    return <Busy label="Verifying the checkpoint in this page…" />;
  if (verification.state === 'failed')
    return (
      <>
        <Notice tone="bad" testId="checkpoint-unverified">
          <strong>This checkpoint does not verify</strong> under the log's and the witnesses' keys of this
          deployment. Do not rely on it: tell the log's operator.
        </Notice>
        <ErrorNotice error={verification.error} />
      </>
    );
  const { checkpoint, witnesses } = verification.cosigned;
  return (
    <>
      <p>
        <span class="badge badge-good">Verified in this page</span>{' '}
        <span class="muted">
          log signature and {witnesses.length} of {props.config.log.witnessesRequired} required witness
          cosignature{witnesses.length === 1 ? '' : 's'}
        </span>
      </p>
      <Facts
        testId="checkpoint-facts"
        items={[
          ['Origin', <span class="mono">{checkpoint.origin}</span>],
          ['Tree size', checkpoint.treeSize.toString()],
          ['Root hash', <span class="mono">{base64Of(checkpoint.rootHash)}</span>],
          ['Fetched', answer.checkedAt === null ? '—' : formatTime(answer.checkedAt)],
        ]}
      />
      <h3>Witness cosignatures</h3>
      <ul class="list" aria-label="Witness cosignatures">
        {witnesses.map((witness) => (
          <li key={`${witness.name}-${witness.keyHash}`}>
            <div class="row">
              <strong class="mono">{witness.name}</strong>
              <span class="badge badge-good">cosignature verified</span>
            </div>
            <p class="muted">cosigned {formatTime(new Date(Number(witness.timestamp) * 1000))}</p>
          </li>
        ))}
      </ul>
    </>
  );
}

function Alarms(props: { readonly answer: LogAnswer }): JSX.Element {
  const { alarm, witnessAlarms, watchingSince, lastError } = props.answer;
  const witnessTotal =
    witnessAlarms === null ? 0 : Object.values(witnessAlarms).reduce((sum, count) => sum + count, 0);
  return (
    <>
      {alarm === null ? (
        <Notice tone="good" testId="log-monitor">
          Every checkpoint since {watchingSince === null ? 'the console started' : formatTime(watchingSince)}{' '}
          verified and extended the one before (consistency proofs checked by the console).
        </Notice>
      ) : (
        <Notice tone="bad" testId="log-monitor">
          <strong>Log alarm: {alarm.code}</strong> at {formatTime(alarm.at)}
          {alarm.detail === '' ? '' : ` (${alarm.detail})`}. The log served a checkpoint that does not verify
          or does not extend the one before: keep the evidence and tell the log's operator.
        </Notice>
      )}
      {witnessAlarms === null ? (
        <Notice tone="info" testId="witness-alarms">
          The witness runs in another process: its alarms are in its own log, not here.
        </Notice>
      ) : witnessTotal === 0 ? (
        <Notice tone="good" testId="witness-alarms">
          The witness raised no alarm: no fork, no rollback.
        </Notice>
      ) : (
        <Notice tone="bad" testId="witness-alarms">
          <strong>The witness refused checkpoints:</strong>{' '}
          {Object.entries(witnessAlarms)
            .map(([code, count]) => `${code} × ${count}`)
            .join(', ')}
          .
        </Notice>
      )}
      {lastError === null ? null : (
        <Notice tone="warn">
          The last check could not reach the log ({lastError.code}, {formatTime(lastError.at)}).
        </Notice>
      )}
    </>
  );
}

/** The log's latest checkpoint, its witness cosignatures, and any alarm. */
export function LogView(props: { readonly config: WebConfig }): JSX.Element {
  const loaded = useLoad(() => consoleApi.get<LogAnswer>('/log'));
  return (
    <LoadedView loaded={loaded} label="Reading the log's checkpoint…">
      {(answer) => (
        <>
          <Panel title="Latest checkpoint" actions={<RefreshButton loaded={loaded} />}>
            <Checkpoint config={props.config} answer={answer} />
          </Panel>
          <Panel title="Alarms">
            <Alarms answer={answer} />
          </Panel>
        </>
      )}
    </LoadedView>
  );
}
