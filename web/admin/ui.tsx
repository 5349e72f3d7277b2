import { useCallback, useEffect, useMemo, useRef, type KeyboardEvent, type ReactNode } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { Result, type ResultProps } from 'antd';
import { groupCardNo } from '../shared/format';
import { useSession } from './session';

/**
 * A card number as every console screen shows it: a full number in groups of four
 * (9000 0138 0547 1982 510), a masked one as the server sent it (900001*********2510, the form the
 * audit log and the receipts use). A full number opens the card when the role may read cards.
 */
export function CardNo({ cardNo, link = true, testId }: { cardNo: string | null | undefined; link?: boolean; testId?: string }) {
  const { can } = useSession();
  if (!cardNo) return <span>—</span>;
  const masked = cardNo.includes('*');
  const text = masked ? cardNo : groupCardNo(cardNo);
  if (link && !masked && can('GET', '/api/v1/cards/:cardNo')) {
    return (
      <Link to={`/cards/${cardNo}`} className="fc-num" data-testid={testId}>
        {text}
      </Link>
    );
  }
  return (
    <span className="fc-num" data-testid={testId}>
      {text}
    </span>
  );
}

/**
 * antd's Result illustrations carry an English <title> ("Unauthorized", "No Found") that shows
 * as a tooltip and is read out by screen readers: give it the screen's own title instead.
 */
export function LocalResult({ title, ...props }: ResultProps & { title: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const svgTitle = ref.current?.querySelector('svg > title');
    if (svgTitle) svgTitle.textContent = title;
  }, [title, props.status]);
  return (
    <div ref={ref}>
      <Result title={title} {...props} />
    </div>
  );
}

/**
 * Dialogs here are mounted only while open, so antd cannot hand focus back to the button that
 * opened one: remember it when opening and return to it on close (or to the page's main region if
 * the button is gone or now disabled), so a keyboard user carries on where they were.
 */
export function useReturnFocus() {
  const trigger = useRef<HTMLElement | null>(null);
  const remember = useCallback(() => {
    trigger.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  }, []);
  /** `instead`: where to go when the action changed what the button does (it may turn disabled once the screen reloads). */
  const restore = useCallback((instead?: HTMLElement | null) => {
    const el = instead ?? trigger.current;
    trigger.current = null;
    setTimeout(() => {
      const usable = el && el.isConnected && !(el as HTMLButtonElement).disabled;
      (usable ? el : document.getElementById(MAIN_ID))?.focus();
    }, 0);
  }, []);
  return useMemo(() => ({ remember, restore }), [remember, restore]);
}

export const MAIN_ID = 'fc-main';

/**
 * "Cancel" on a form: back where the person came from when they came from inside the console,
 * otherwise (a deep link, a new tab) to the list the form belongs to.
 */
export function useCancel(fallback: string) {
  const navigate = useNavigate();
  return useCallback(() => {
    const idx = (window.history.state as { idx?: number } | null)?.idx ?? 0;
    if (idx > 0) navigate(-1);
    else navigate(fallback);
  }, [navigate, fallback]);
}

/** Enter in a multi-line reason submits the dialog; Shift+Enter still starts a new line. */
export function enterSubmits(submit: () => void) {
  return (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  };
}

export function Nowrap({ children }: { children: ReactNode }) {
  return <span style={{ whiteSpace: 'nowrap' }}>{children}</span>;
}
