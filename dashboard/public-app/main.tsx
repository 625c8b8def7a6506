import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App.tsx'
import { isPublicPagePath, NotFound } from './NotFound.tsx'
import './public.css'

createRoot(document.getElementById('root')!).render(<StrictMode>{isPublicPagePath(location.pathname) ? <App /> : <NotFound />}</StrictMode>)
