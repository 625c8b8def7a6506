import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { LangProvider } from '../i18n/react.tsx'
import { App } from './App.tsx'
import { isPublicPagePath, NotFound } from './NotFound.tsx'
import './public.css'

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    {isPublicPagePath(location.pathname) ? (
      <LangProvider>
        <App />
      </LangProvider>
    ) : (
      <NotFound />
    )}
  </StrictMode>,
)
