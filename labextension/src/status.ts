import { IStatusBar } from '@jupyterlab/statusbar';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { INbtrainKernels, KernelLink } from './kernels';
import { ITrainerStatus } from './protocol';
import { TransportIDs } from './transport';

const ICONS: { [state: string]: string } = {
  running: '▶',
  paused: '‖',
  idle: '○',
  finished: '✓',
  stopped: '■',
  error: '⚠'
};

function formatLoss(t: ITrainerStatus): string {
  if (t.loss === null) {
    return t.loss_text || '–';
  }
  return Math.abs(t.loss) >= 1e4 || Math.abs(t.loss) < 1e-3 ? t.loss.toExponential(2) : t.loss.toPrecision(4);
}

/** The status bar item: state, step, loss and device of the active notebook's trainer; a click toggles pause. */
export class TrainerStatus extends Widget {
  constructor(private _kernels: INbtrainKernels, private _commands: CommandRegistry) {
    super();
    this.addClass('nbtrain-statusbar');
    this.node.title = 'nbtrain: click to pause or resume the trainer of this notebook';
    this.node.addEventListener('click', () => void this._commands.execute(TransportIDs.toggle));
    _kernels.currentChanged.connect(this._render, this);
    this._render();
  }

  /** Emitted when the item should appear or disappear. */
  readonly activeChanged = new Signal<this, void>(this);

  get isActive(): boolean {
    return this._active;
  }

  private _render(): void {
    const link: KernelLink | null = this._kernels.current;
    const status = link?.status ?? null;
    const trainers = status?.trainers ?? [];
    const active = trainers.length > 0;
    if (active) {
      const t = trainers.find(x => x.id === status!.focus) ?? trainers[trainers.length - 1];
      const more = trainers.length > 1 ? ` (+${trainers.length - 1})` : '';
      const total = t.max_steps ? `/${t.max_steps}` : '';
      this.node.textContent =
        `nbtrain ${ICONS[t.state] ?? ''} ${t.state} · step ${t.step}${total} · loss ${formatLoss(t)} · ${t.device}${more}`;
      this.node.dataset.state = t.state;
      this.node.dataset.step = String(t.step);
      this.node.dataset.trainers = String(trainers.length);
      if (t.message) {
        this.node.title = `${t.message}\n(click to pause or resume)`;
      }
    } else {
      this.node.textContent = '';
      delete this.node.dataset.state;
      delete this.node.dataset.step;
      this.node.dataset.trainers = '0';
    }
    if (active !== this._active) {
      this._active = active;
      this.activeChanged.emit();
    }
  }

  private _active = false;
}

export function activateStatus(statusBar: IStatusBar, kernels: INbtrainKernels, commands: CommandRegistry): void {
  const item = new TrainerStatus(kernels, commands);
  statusBar.registerStatusItem('nbtrain:status', {
    item,
    align: 'left',
    rank: 5,
    isActive: () => item.isActive,
    activeStateChanged: item.activeChanged
  });
}
