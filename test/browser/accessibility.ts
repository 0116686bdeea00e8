import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** What `checkScreen` found wrong on a screen, each as a sentence naming the element. */
export interface ScreenProblems {
  readonly unlabelled: string[];
  readonly overflowing: string[];
  readonly overlapping: string[];
  readonly unreachable: string[];
}

/**
 * Checks what a person sees on the current screen, in the page itself:
 * - every control (input, select, textarea, button, link) has an accessible name
 *   (a label, aria-label/labelledby, or its text);
 * - nothing is wider than the screen (text that fits a phone);
 * - no two visible controls overlap;
 * - every visible control can be reached with the keyboard (not tabindex=-1, not disabled
 *   without reason is allowed: disabled controls are skipped).
 */
export async function checkScreen(page: Page): Promise<ScreenProblems> {
  return page.evaluate(() => {
    const describe = (element: Element) => {
      const id = element.id ? `#${element.id}` : '';
      const text = (element.textContent ?? '').trim().slice(0, 30);
      return `${element.tagName.toLowerCase()}${id}${text ? ` "${text}"` : ''}`;
    };
    const visible = (element: Element) => {
      const box = element.getBoundingClientRect();
      const style = getComputedStyle(element);
      return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
    };
    const nameOf = (element: Element): string => {
      const labelled = element.getAttribute('aria-labelledby');
      if (labelled)
        return labelled
          .split(/\s+/)
          .map((id) => document.getElementById(id)?.textContent ?? '')
          .join(' ')
          .trim();
      const aria = element.getAttribute('aria-label');
      if (aria) return aria.trim();
      if (
        element instanceof HTMLInputElement ||
        element instanceof HTMLSelectElement ||
        element instanceof HTMLTextAreaElement
      ) {
        const labels = Array.from(element.labels ?? []).map((label) => label.textContent ?? '');
        if (labels.join('').trim()) return labels.join(' ').trim();
        if (element instanceof HTMLInputElement && ['submit', 'button'].includes(element.type))
          return element.value;
        return element.getAttribute('title') ?? '';
      }
      const text = (element.textContent ?? '').trim();
      if (text) return text;
      const image = element.querySelector('img[alt], svg[aria-label]');
      return (
        image?.getAttribute('alt') ?? image?.getAttribute('aria-label') ?? element.getAttribute('title') ?? ''
      );
    };
    const controls = Array.from(document.querySelectorAll('input, select, textarea, button, a[href]')).filter(
      (element) => visible(element) && !(element instanceof HTMLInputElement && element.type === 'hidden'),
    );
    const unlabelled = controls.filter((element) => nameOf(element) === '').map(describe);
    const width = document.documentElement.clientWidth;
    const overflowing = Array.from(document.querySelectorAll('body *'))
      .filter((element) => {
        if (!visible(element)) return false;
        // Inside a horizontally scrolling container (a wide table) is fine.
        for (let parent = element.parentElement; parent; parent = parent.parentElement) {
          const overflowX = getComputedStyle(parent).overflowX;
          if (overflowX === 'auto' || overflowX === 'scroll') return false;
        }
        const box = element.getBoundingClientRect();
        return box.right > width + 1 || box.left < -1;
      })
      .map(describe);
    const boxes = controls.map((element) => ({ element, box: element.getBoundingClientRect() }));
    const overlapping: string[] = [];
    for (let i = 0; i < boxes.length; i += 1)
      for (let j = i + 1; j < boxes.length; j += 1) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        if (a.element.contains(b.element) || b.element.contains(a.element)) continue;
        // A label's input and its label may touch; controls must not cover each other.
        const overlapX = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left);
        const overlapY = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top);
        if (overlapX > 2 && overlapY > 2) overlapping.push(`${describe(a.element)} × ${describe(b.element)}`);
      }
    const unreachable = controls
      .filter((element) => {
        const disabled = (element as HTMLButtonElement).disabled === true;
        return !disabled && (element as HTMLElement).tabIndex < 0;
      })
      .map(describe);
    return { unlabelled, overflowing, overlapping, unreachable };
  });
}

/** Fails the test, naming each element, when the current screen has a problem `checkScreen` finds. */
export async function expectUsableScreen(page: Page, screen: string): Promise<void> {
  const problems = await checkScreen(page);
  expect(problems, screen).toEqual({ unlabelled: [], overflowing: [], overlapping: [], unreachable: [] });
}
