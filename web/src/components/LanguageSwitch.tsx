import { Segmented } from 'antd';
import { useTranslation } from 'react-i18next';
import { setLanguage, type Lang } from '../i18n';

/** 中文 / EN switch; the choice is kept in localStorage and sent to the API as Accept-Language. */
export default function LanguageSwitch({ size = 'middle' }: { size?: 'small' | 'middle' | 'large' }) {
  const { i18n, t } = useTranslation();
  return (
    <Segmented<Lang>
      data-testid="lang-switch"
      size={size}
      aria-label={t('app.language')}
      value={i18n.language === 'en' ? 'en' : 'zh-CN'}
      options={[
        { label: '中文', value: 'zh-CN' },
        { label: 'EN', value: 'en' },
      ]}
      onChange={(value) => void setLanguage(value)}
    />
  );
}
