import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import zhCN from './locales/zh-CN';
import en from './locales/en';

export type Lang = 'zh-CN' | 'en';
export const LANGUAGES: Lang[] = ['zh-CN', 'en'];
const STORAGE_KEY = 'omniloop.lang';

function storedLanguage(): Lang {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    if (value === 'en' || value === 'zh-CN') return value;
  } catch {
    /* storage unavailable: use the default */
  }
  return 'zh-CN';
}

function applyDocumentLanguage(lang: Lang) {
  document.documentElement.lang = lang;
  dayjs.locale(lang === 'en' ? 'en' : 'zh-cn');
}

const initial = storedLanguage();

void i18n.use(initReactI18next).init({
  resources: { 'zh-CN': { translation: zhCN }, en: { translation: en } },
  lng: initial,
  fallbackLng: 'zh-CN',
  interpolation: { escapeValue: false },
  returnNull: false,
});
applyDocumentLanguage(initial);

/** The language the console is in; also sent to the API as Accept-Language. */
export function currentLanguage(): Lang {
  return i18n.language === 'en' ? 'en' : 'zh-CN';
}

export async function setLanguage(lang: Lang): Promise<void> {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* ignore */
  }
  applyDocumentLanguage(lang);
  await i18n.changeLanguage(lang);
}

export default i18n;
