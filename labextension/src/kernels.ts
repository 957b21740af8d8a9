import { ISessionContext } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { JSONObject, Token } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { Action, COMM_TARGET, IReplyMessage, IStatusMessage, PROTOCOL_VERSION } from './protocol';

/**
 * The comm link to one kernel's `nbtrain` target.
 *
 * The front end opens it, never the kernel (a page without this extension would refuse a comm the kernel
 * opened, and log an error): once when the link attaches to a kernel that may already run nbtrain (a page
 * reload), and again at the end of each execution whose code names `nbtrain` (`import nbtrain as nt`)
 * while no comm is open. A kernel without nbtrain closes the attempt; nothing is polled.
 */
export class KernelLink implements IDisposable {
  constructor(readonly kernel: Kernel.IKernelConnection) {
    kernel.registerCommTarget(COMM_TARGET, this._onCommOpen);
    kernel.statusChanged.connect(this._onKernelStatus, this);
    kernel.iopubMessage.connect(this._onIopub, this);
    kernel.disposed.connect(() => this.dispose());
    this._open();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The latest status the kernel sent, or null when nbtrain is not (yet) talking to us. */
  get status(): IStatusMessage | null {
    return this._status;
  }

  /** True once the kernel answered on the current comm (a kernel without nbtrain closes it instead). */
  get connected(): boolean {
    return this._comm !== null && !this._comm.isDisposed && this._status !== null;
  }

  get statusChanged(): ISignal<this, IStatusMessage | null> {
    return this._statusChanged;
  }

  get replied(): ISignal<this, IReplyMessage> {
    return this._replied;
  }

  /** Send an action to the kernel; false when no nbtrain comm is open. */
  send(action: Action, extra: JSONObject = {}): boolean {
    if (!this.connected) {
      return false;
    }
    this._comm!.send({ action, ...extra });
    return true;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.kernel.statusChanged.disconnect(this._onKernelStatus, this);
    this.kernel.iopubMessage.disconnect(this._onIopub, this);
    if (!this.kernel.isDisposed) {
      this.kernel.removeCommTarget(COMM_TARGET, this._onCommOpen);
    }
    this._setStatus(null);
    Signal.clearData(this);
  }

  private _open(): void {
    try {
      const comm = this.kernel.createComm(COMM_TARGET);
      this._attach(comm);
      comm.open({ action: 'hello', protocol: PROTOCOL_VERSION });
    } catch (reason) {
      console.debug('nbtrain: could not open a comm', reason);
    }
  }

  private _onCommOpen = (comm: Kernel.IComm, msg: KernelMessage.ICommOpenMsg): void => {
    if (this._disposed) {
      comm.close();
      return;
    }
    this._attach(comm);
    this._handle(msg.content.data);
  };

  private _attach(comm: Kernel.IComm): void {
    const previous = this._comm;
    this._comm = comm;
    comm.onMsg = msg => {
      if (this._comm === comm) {
        this._handle(msg.content.data);
      }
    };
    comm.onClose = () => {
      if (this._comm === comm) {
        this._comm = null;
        this._setStatus(null);
      }
    };
    if (previous && previous !== comm && !previous.isDisposed) {
      previous.close(); // one live comm per kernel: the newest wins
    }
  }

  private _handle(data: unknown): void {
    const msg = data as IStatusMessage | IReplyMessage | undefined;
    if (!msg || typeof msg !== 'object') {
      return;
    }
    if (msg.type === 'status') {
      this._setStatus(msg);
    } else if (msg.type === 'reply') {
      this._replied.emit(msg);
    }
  }

  private _setStatus(status: IStatusMessage | null): void {
    if (status === this._status) {
      return;
    }
    this._status = status;
    this._statusChanged.emit(status);
  }

  /** An execution whose code names nbtrain: open the comm when that execution ends (the import is done). */
  private _onIopub(_: Kernel.IKernelConnection, msg: KernelMessage.IIOPubMessage): void {
    if (this._disposed || this.connected) {
      return;
    }
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader>)?.msg_id ?? null;
    if (msg.header.msg_type === 'execute_input') {
      const code = (msg as KernelMessage.IExecuteInputMsg).content.code;
      if (typeof code === 'string' && code.includes('nbtrain')) {
        this._openAfter = parent;
      }
    } else if (
      msg.header.msg_type === 'status' &&
      this._openAfter !== null &&
      parent === this._openAfter &&
      (msg as KernelMessage.IStatusMsg).content.execution_state === 'idle'
    ) {
      this._openAfter = null;
      this._open();
    }
  }

  private _onKernelStatus(_: Kernel.IKernelConnection, status: KernelMessage.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      // the kernel's comms die with it; the next execution that imports nbtrain opens a new one
      this._comm = null;
      this._setStatus(null);
    }
  }

  private _comm: Kernel.IComm | null = null;
  private _openAfter: string | null = null;
  private _status: IStatusMessage | null = null;
  private _disposed = false;
  private _statusChanged = new Signal<this, IStatusMessage | null>(this);
  private _replied = new Signal<this, IReplyMessage>(this);
}

/** Follows the notebooks' kernels; `current` is the link of the active notebook's kernel. */
export interface INbtrainKernels {
  readonly current: KernelLink | null;
  /** Emitted when the active notebook changes, its kernel changes, or that kernel sends a status. */
  readonly currentChanged: ISignal<INbtrainKernels, KernelLink | null>;
  /** Every kernel's replies to the actions this front end sent (refusals carry `error`). */
  readonly replied: ISignal<INbtrainKernels, IReplyMessage>;
  linkFor(kernel: Kernel.IKernelConnection): KernelLink;
}

export const INbtrainKernels = new Token<INbtrainKernels>(
  'nbtrain:INbtrainKernels',
  'Comm links to the nbtrain trainers of the notebooks kernels'
);

export class NbtrainKernels implements INbtrainKernels {
  constructor(private _notebooks: INotebookTracker) {
    _notebooks.widgetAdded.connect((_, panel) => this._watch(panel));
    _notebooks.forEach(panel => this._watch(panel));
    _notebooks.currentChanged.connect(this._refresh, this);
    this._refresh();
  }

  get current(): KernelLink | null {
    return this._current;
  }

  get currentChanged(): ISignal<this, KernelLink | null> {
    return this._currentChanged;
  }

  get replied(): ISignal<this, IReplyMessage> {
    return this._replied;
  }

  linkFor(kernel: Kernel.IKernelConnection): KernelLink {
    let link = this._links.get(kernel);
    if (!link || link.isDisposed) {
      link = new KernelLink(kernel);
      link.statusChanged.connect(this._onLinkStatus, this);
      link.replied.connect((_, reply) => this._replied.emit(reply));
      this._links.set(kernel, link);
    }
    return link;
  }

  private _watch(panel: NotebookPanel): void {
    const context: ISessionContext = panel.sessionContext;
    const attach = () => {
      const kernel = context.session?.kernel;
      if (kernel) {
        this.linkFor(kernel);
      }
      if (this._notebooks.currentWidget === panel) {
        this._refresh();
      }
    };
    context.kernelChanged.connect(attach);
    void context.ready.then(attach);
    attach();
  }

  private _refresh(): void {
    const kernel = this._notebooks.currentWidget?.sessionContext.session?.kernel ?? null;
    const link = kernel ? this.linkFor(kernel) : null;
    if (link !== this._current) {
      this._current = link;
      this._currentChanged.emit(link);
    }
  }

  private _onLinkStatus(link: KernelLink): void {
    if (link === this._current) {
      this._currentChanged.emit(link);
    }
  }

  private _links = new WeakMap<Kernel.IKernelConnection, KernelLink>();
  private _current: KernelLink | null = null;
  private _currentChanged = new Signal<this, KernelLink | null>(this);
  private _replied = new Signal<this, IReplyMessage>(this);
}
