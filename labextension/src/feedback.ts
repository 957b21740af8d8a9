/**
 * Immediate feedback for the Lab's controls, in the front end's own state: the moment a control of a Lab is
 * changed (a value committed with Enter or on leaving a field, a dropdown choice, a slider released, a button
 * clicked), its live-change line (`.nbtrain-change`) shows "pending" — in the same frame, before the kernel
 * has even received the change. The kernel's own marker replaces it when it arrives ("pending" until the
 * training thread applies the change at its next step boundary, then "applied at step N").
 *
 * Without this extension (Voilà, Notebook 7 with it disabled) the kernel's marker alone does the job, one
 * round trip later.
 */
const PENDING_CLASS = 'nbtrain-input-pending';
const GIVE_UP_MS = 3000; // no answer (nothing changed, or refused: the status line says why)

/** The live-change line of the Lab whose control ``event`` changes, or null (not a change of a Lab control). */
function noteOf(event: Event): HTMLElement | null {
  const el = event.target as HTMLElement | null;
  if (!el || typeof el.closest !== 'function') {
    return null;
  }
  let control: Element | null = null;
  if (event.type === 'change') {
    control = el.closest('.nbtrain-lab .nbtrain-control');
  } else if (event.type === 'keydown') {
    control = (event as KeyboardEvent).key === 'Enter' ? el.closest('.nbtrain-lab .nbtrain-control input') : null;
  } else if (event.type === 'pointerup') {
    control = el.closest('.nbtrain-lab .nbtrain-control :is(.slider-container, .noUi-target)');
  } else if (event.type === 'click') {
    control = el.closest('.nbtrain-lab :is(.nbtrain-pause, .nbtrain-reinit)'); // the kernel marks these two
  }
  return control?.closest('.nbtrain-lab')?.querySelector<HTMLElement>('.nbtrain-change') ?? null;
}

function markPending(note: HTMLElement): void {
  if (note.classList.contains(PENDING_CLASS)) {
    return;
  }
  note.classList.add(PENDING_CLASS);
  const done = () => {
    observer.disconnect();
    window.clearTimeout(timer);
    note.classList.remove(PENDING_CLASS);
  };
  const observer = new MutationObserver(done); // the kernel's marker arrived
  observer.observe(note, { subtree: true, childList: true, characterData: true });
  const timer = window.setTimeout(done, GIVE_UP_MS);
}

export function activateFeedback(): void {
  const onEvent = (event: Event) => {
    const note = noteOf(event);
    if (note) {
      markPending(note);
    }
  };
  // capture phase: before the widget's own handlers send the change to the kernel
  for (const type of ['change', 'keydown', 'pointerup', 'click']) {
    document.addEventListener(type, onEvent, true);
  }
}
