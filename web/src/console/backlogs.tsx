import type { JSX } from 'preact';
import { ErrorNotice } from '../ui/components.tsx';
import { type BacklogsAnswer, consoleApi, type Outbox } from './api.ts';
import { formatAge, LoadedView, Panel, RefreshButton, useLoad } from './parts.tsx';

/** Refreshed this often while shown: backlogs move by the second. */
const refreshMs = 10_000;

/** An outbox older than this with rows waiting is shown as late. */
const lateAgeSeconds = 60;

function outboxLabel(name: string): string {
  return name.replace(/^outbox\//, '').replace(/_/g, ' ');
}

function OutboxTable(props: { readonly service: string; readonly outboxes: readonly Outbox[] }): JSX.Element {
  return (
    <div class="table-scroll">
      <table class="console-table" aria-label={`${props.service} outboxes`}>
        <thead>
          <tr>
            <th scope="col">Outbox</th>
            <th scope="col" class="console-number">
              Waiting
            </th>
            <th scope="col" class="console-number">
              Retrying
            </th>
            <th scope="col" class="console-number">
              Given up / overdue
            </th>
            <th scope="col" class="console-number">
              Oldest
            </th>
          </tr>
        </thead>
        <tbody>
          {props.outboxes.map((outbox) => {
            const late = (outbox.oldestPendingAgeSeconds ?? 0) > lateAgeSeconds;
            const stuck = (outbox.abandoned ?? 0) + (outbox.overdue ?? 0);
            return (
              <tr key={outbox.name}>
                <td>{outboxLabel(outbox.name)}</td>
                <td class="console-number">{outbox.pending}</td>
                <td class="console-number">{outbox.retrying}</td>
                <td class="console-number">
                  {stuck === 0 ? '0' : <span class="badge badge-bad">{stuck}</span>}
                </td>
                <td class="console-number console-nowrap">
                  {late ? (
                    <span class="badge badge-warn">{formatAge(outbox.oldestPendingAgeSeconds)}</span>
                  ) : (
                    formatAge(outbox.oldestPendingAgeSeconds)
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** What each service still has to deliver: webhooks, bank orders, log entries, pushes, mails. */
export function BacklogsView(): JSX.Element {
  const loaded = useLoad(() => consoleApi.get<BacklogsAnswer>('/backlogs'), { refreshMs });
  return (
    <LoadedView loaded={loaded} label="Reading the outboxes…">
      {(answer) => (
        <>
          <div class="console-toolbar">
            <p class="muted">
              What each service still has to deliver; refreshed every {refreshMs / 1000} s. The oldest is
              marked once it waits more than {lateAgeSeconds} s.
            </p>
            <RefreshButton loaded={loaded} />
          </div>
          <div class="console-grid">
            {answer.services.map((service) => (
              <Panel key={service.service} title={`${service.service} outboxes`}>
                {'outboxes' in service ? (
                  <OutboxTable service={service.service} outboxes={service.outboxes} />
                ) : (
                  <ErrorNotice error={{ code: service.error }} onRetry={loaded.reload} />
                )}
              </Panel>
            ))}
          </div>
        </>
      )}
    </LoadedView>
  );
}
